/**
 * Loading code named by module and export, for thread nodes and pool
 * workers: functions cannot cross threads, so code travels as a name.
 */
import { pathToFileURL } from 'node:url';
import { ActorError, registerErrorClasses } from '../reasons.js';

/** The module or the export a thread was asked to run could not be loaded. */
export class ModuleLoadError extends ActorError {
  override name = 'ModuleLoadError';
  constructor(
    code: 'module_not_found' | 'export_not_found',
    readonly module: string,
    readonly exportName: string,
    message: string,
    cause?: unknown,
  ) {
    super(code, message, { cause });
  }
}

registerErrorClasses(ModuleLoadError);

const modules = new Map<string, Promise<Record<string, unknown>>>();

/**
 * Imports `module` (an absolute path, a file URL or a package name; once
 * per thread) and returns its export `name`, which must be a function when
 * `kind` says so. Fails with `ModuleLoadError` (`module_not_found`,
 * `export_not_found`).
 */
export async function loadExport(
  module: string,
  name: string,
  kind?: 'function',
): Promise<unknown> {
  let loading = modules.get(module);
  if (loading === undefined) {
    const url =
      module.startsWith('/') && !module.startsWith('//') ? pathToFileURL(module).href : module;
    loading = import(url) as Promise<Record<string, unknown>>;
    modules.set(module, loading);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await loading;
  } catch (error) {
    modules.delete(module);
    throw new ModuleLoadError(
      'module_not_found',
      module,
      name,
      `cannot load module ${module}: ${String((error as Error)?.message ?? error)}`,
      error,
    );
  }
  const present = Object.prototype.hasOwnProperty.call(mod, name);
  if (!present || (kind === 'function' && typeof mod[name] !== 'function')) {
    throw new ModuleLoadError(
      'export_not_found',
      module,
      name,
      `module ${module} has no ${kind === 'function' ? 'function ' : ''}export ${JSON.stringify(name)}`,
    );
  }
  return mod[name];
}
