/** What the container service needs from the image service. */
import type { ImageConfig } from '../image/types';

export interface ImageSource {
  /** Throws 404 `No such image: <ref>`. */
  get(ref: string): { id: string };
  /** The image of a platform (a multi-platform image's entry); 404 when `ref` is of another platform, 400 for a bad one. */
  forPlatform(ref: string, platform: string): { id: string };
  config(id: string): ImageConfig;
  /** overlay lower dirs, top layer first. */
  layerDirs(id: string): string[];
}
