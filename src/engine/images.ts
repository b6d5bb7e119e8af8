/** What the container service needs from the image service. */
import type { ImageConfig } from '../image/types';

export interface ImageSource {
  /** Throws 404 `No such image: <ref>`. */
  get(ref: string): { id: string };
  config(id: string): ImageConfig;
  /** overlay lower dirs, top layer first. */
  layerDirs(id: string): string[];
}
