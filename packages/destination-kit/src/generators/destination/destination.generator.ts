import {
  formatFiles,
  generateFiles,
  getProjects,
  joinPathFragments,
  logger,
  names,
  type GeneratorCallback,
  type Tree,
} from '@nx/devkit';
import * as path from 'node:path';

/** Options of `nx g @tessera/destination-kit:destination` (see schema.json). */
export interface DestinationGeneratorSchema {
  /** Kebab-case name of the ESP, e.g. `acme`: the package becomes `packages/destination-acme`. */
  name: string;
}

/** Every form of the ESP's name the templates use, for `acme-mail`. */
export interface DestinationNames {
  /** `acme-mail`: file names, the emulator's mount and the destination `type`. */
  fileName: string;
  /** `acmeMail`: the definition (`acmeMailDestination`) and the package export (`acmeMailPackage`). */
  propertyName: string;
  /** `AcmeMail`: types and classes (`AcmeMailSettings`, `AcmeMailEmulator`). */
  className: string;
  /** `ACME_MAIL`: constants (`ACME_MAIL_API_VERSION`). */
  constantName: string;
  /** `Acme Mail`: the human-readable name. */
  displayName: string;
  /** `destination-acme-mail`: the Nx project. */
  projectName: string;
  /** `@tessera/destination-acme-mail`: the npm workspace package. */
  packageName: string;
  /** `packages/destination-acme-mail`. */
  projectRoot: string;
}

/** Lower-case letters and digits in dash-separated words, starting with a letter (a valid emulator mount too). */
const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export class DestinationGeneratorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationGeneratorError';
  }
}

/** Derives every name form from the kebab-case ESP name; throws a DestinationGeneratorError when it is invalid. */
export function destinationNames(rawName: string): DestinationNames {
  const name = typeof rawName === 'string' ? rawName.trim() : '';
  if (!NAME_PATTERN.test(name)) {
    throw new DestinationGeneratorError(
      `Invalid destination name ${JSON.stringify(rawName)}: use kebab-case — lower-case letters, digits and ` +
        `single dashes, starting with a letter (e.g. "acme" or "acme-mail").`,
    );
  }
  if (name.startsWith('destination-')) {
    throw new DestinationGeneratorError(
      `Invalid destination name "${name}": give the ESP's name without the "destination-" prefix ` +
        `(e.g. "${name.slice('destination-'.length) || 'acme'}"); the package is named destination-<name>.`,
    );
  }
  const forms = names(name);
  const projectName = `destination-${forms.fileName}`;
  return {
    fileName: forms.fileName,
    propertyName: forms.propertyName,
    className: forms.className,
    constantName: forms.constantName,
    displayName: forms.fileName
      .split('-')
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join(' '),
    projectName,
    packageName: `@tessera/${projectName}`,
    projectRoot: joinPathFragments('packages', projectName),
  };
}

function assertFree(tree: Tree, destination: DestinationNames): void {
  if (tree.exists(destination.projectRoot)) {
    throw new DestinationGeneratorError(
      `Cannot create ${destination.projectRoot}: it already exists. Pick another name, or delete the folder first.`,
    );
  }
  const existing = getProjects(tree).get(destination.projectName);
  if (existing !== undefined) {
    throw new DestinationGeneratorError(
      `Cannot create project "${destination.projectName}": a project of that name already exists at ${existing.root}.`,
    );
  }
}

/** Scaffolds `packages/destination-<name>` from the templates in `./files`. */
export async function destinationGenerator(
  tree: Tree,
  options: DestinationGeneratorSchema,
): Promise<GeneratorCallback> {
  const destination = destinationNames(options.name);
  assertFree(tree, destination);
  generateFiles(tree, path.join(__dirname, 'files'), destination.projectRoot, {
    ...destination,
    baseUrl: `https://api.${destination.fileName}.example`,
    apiHost: `api.${destination.fileName}.example`,
    tmpl: '',
  });
  await formatFiles(tree);
  return () => {
    logger.info(`Created ${destination.packageName} in ${destination.projectRoot}. Next:`);
    logger.info(`  1. npm install                 (links the new workspace package into node_modules)`);
    logger.info(
      `  2. npx nx test ${destination.projectName}   (the generated harness tests pass as they are)`,
    );
    logger.info(
      `  3. Fill in the TODOs (settings, endpoints, batch sizes, rate limits, the emulator) — see ${destination.projectRoot}/README.md`,
    );
    logger.info(
      `  4. Register it: add ${destination.propertyName}Package to packages/destination-registry/src/destination-registry.ts`,
    );
  };
}

export default destinationGenerator;
