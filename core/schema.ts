/**
 * The schema library of every shape keymat parses: zod's functional build (`zod/mini`), whose schemas carry only the
 * checks they use, so a Lambda bundle takes a few kilobytes of zod rather than all of it, and the CLI none of full
 * zod's locales. Its schemas still have `parse` and `safeParse`. Import it as a namespace (`import * as z from
 * './schema'`), which the bundler shakes to the functions used.
 *
 * Every object schema is declared inside `z.lazy(() => ...)`: zod builds a schema's objects when it is constructed, so
 * a module's schemas would all be built at each cold start, including those its function never parses. Lazy, each is
 * built when it is first used (parsed, or built into another), and a function builds only the ones it parses. A schema
 * that others extend keeps its fields in a function (`taskEventShape`) they spread, since `z.extend` needs the built
 * object.
 */
import { config } from 'zod/mini';
import { en } from 'zod/locales';

// zod/mini carries no messages of its own ("Invalid input"); these are the English ones full zod gives, which keymat's
// errors quote (the field, then what was wrong with it).
config(en());

export * from 'zod/mini';
