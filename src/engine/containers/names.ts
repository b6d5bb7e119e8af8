/** Container names: docker's rule, its conflict error, and random names (`adjective_surname`) for containers created without --name. */
import { conflict, type ApiError } from '../../common/errors';

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

/** docker's 409 for a name another container holds. */
export const nameInUse = (name: string, holderId: string): ApiError =>
  conflict(`Conflict. The container name "/${name}" is already in use by container "${holderId}". You have to remove (or rename) that container to be able to reuse that name.`);
