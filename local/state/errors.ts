/**
 * The local state's own errors, apart from the store so that the CLI can tell them from others (and print their
 * message alone) without loading the database.
 */

/**
 * A fault of the state folder: a write that did not happen (nothing was changed), a database that cannot be opened,
 * a folder another stack serves. The message is one line naming the file, the fault, and what to do.
 */
export class LocalStateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalStateError';
  }
}

/** Refusal to open a state folder another live stack owns. */
export class StateFolderBusyError extends LocalStateError {
  constructor(message: string) {
    super(message);
    this.name = 'StateFolderBusyError';
  }
}
