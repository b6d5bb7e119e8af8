/** Docker-style random names (`adjective_surname`) for containers created without --name. */
const ADJECTIVES = ['admiring', 'bold', 'brave', 'clever', 'dreamy', 'eager', 'focused', 'gallant', 'happy', 'jolly',
  'keen', 'loving', 'modest', 'nifty', 'peaceful', 'quirky', 'relaxed', 'serene', 'sharp', 'tender', 'vibrant', 'wizardly'];
const SURNAMES = ['albattani', 'bell', 'curie', 'darwin', 'euclid', 'fermi', 'galileo', 'hopper', 'hypatia', 'kepler',
  'lovelace', 'meitner', 'newton', 'noether', 'pasteur', 'ritchie', 'shannon', 'tesla', 'turing', 'wozniak'];

export function randomName(taken: (name: string) => boolean): string {
  for (let i = 0; ; i++) {
    const a = ADJECTIVES[Math.floor(Math.random() * ADJECTIVES.length)];
    const s = SURNAMES[Math.floor(Math.random() * SURNAMES.length)];
    const name = i < 10 ? `${a}_${s}` : `${a}_${s}${i}`;
    if (!taken(name)) return name;
  }
}

/** Docker's rule for container names. */
export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
