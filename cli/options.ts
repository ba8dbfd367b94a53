import { InvalidArgumentError } from 'commander';

/** Parses a whole non-negative number option, naming the option and the value when it is not one. */
export const wholeNumber =
  (option: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`${option} must be a whole number from ${min} to ${max}; got '${value}'`);
    }
    return n;
  };
