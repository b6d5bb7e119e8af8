/** Pure parts of `berth image bootstrap`: apt sources parsing, suite selection, mmdebstrap's argument list. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mmdebstrapArgs, parseSources, sourcesFor, SLIM_DPKG_OPTIONS, type BootstrapSpec } from '../../src/cli/commands/bootstrap';

const DEB822 = `Types: deb
# a comment
URIs: http://deb.debian.org/debian
Suites: bookworm
 bookworm-updates
Components: main

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie

Types: deb
Enabled: no
Suites: sid

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
`;

describe('parseSources', () => {
  it('reads enabled deb stanzas of deb822 files (continuation lines, comments; deb-src and Enabled: no skipped)', () => {
    assert.deepEqual(parseSources('a.sources', DEB822, true), { file: 'a.sources', suites: ['bookworm', 'bookworm-updates', 'bookworm-security'] });
  });
  it('reads one-line files with options and comments', () => {
    const text = 'deb [signed-by=/k.gpg arch=amd64] http://m/debian bookworm main\n# deb http://m/debian sid main\ndeb-src http://m/debian trixie main\n';
    assert.deepEqual(parseSources('s.list', text, false).suites, ['bookworm']);
  });
});

describe('sourcesFor', () => {
  const entries = [
    { file: 'debian.sources', suites: ['bookworm', 'bookworm-updates'] },
    { file: 'security.list', suites: ['bookworm-security'] },
    { file: 'nodesource.sources', suites: ['nodistro'] },
  ];
  it('takes the files serving the suite and its companions, not unrelated repositories', () => {
    assert.deepEqual(sourcesFor('bookworm', entries), ['debian.sources', 'security.list']);
  });
  it('names an unknown suite and what the host offers', () => {
    assert.throws(() => sourcesFor('trixie', entries),
      { message: 'unknown suite "trixie": the host\'s apt sources (debian.sources, security.list, nodesource.sources) offer bookworm, bookworm-updates, bookworm-security, nodistro' });
  });
});

describe('mmdebstrapArgs', () => {
  const spec: BootstrapSpec = {
    suite: 'bookworm', variant: 'minbase', slim: true, include: ['python3', 'python3-pip'], aptopts: ['A "1";'], dpkgopts: [],
    hooks: { setup: [], essential: ['e'], customize: ['c1', 'c2'] }, quiet: true,
  };
  it('slim: merged-usr hook and path excludes; options, packages, hooks, then suite, target and mirrors', () => {
    assert.deepEqual(mmdebstrapArgs(spec, '/t/r.tar', ['/s']), [
      '--variant=minbase', '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr', ...SLIM_DPKG_OPTIONS.map((o) => `--dpkgopt=${o}`),
      '--aptopt=A "1";', '--include=python3,python3-pip', '--essential-hook=e', '--customize-hook=c1', '--customize-hook=c2',
      '--quiet', 'bookworm', '/t/r.tar', '/s',
    ]);
  });
  it('not slim: nothing excluded', () => {
    assert.deepEqual(mmdebstrapArgs({ ...spec, slim: false, include: [], hooks: { setup: [], essential: [], customize: [] }, quiet: false, aptopts: [] }, 'r.tar', ['/s']),
      ['--variant=minbase', 'bookworm', 'r.tar', '/s']);
  });
});
