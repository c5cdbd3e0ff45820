#!/usr/bin/env python3
"""Checks that every identifier docs/rfc-map.md cites exists in the source tree.

The map names, for each rule, the code that implements it and the test that would fail if
it broke. A name that no longer exists makes the row a lie, so every backticked token is
checked:

- a path (it has a '/', or ends in .c, .h, .md, .pkt, .sh) must exist, a pattern with '*'
  must match something; a bare *.pkt name is looked up under tests/drill/;
- a test name (test_...) must be defined as a function in tests/; a '*' in it stands for
  any run of characters, and at least one test must match;
- any other C identifier (also written as f(), a->b or a.b, each part checked) must occur
  as a whole word in src/, include/, tools/, tests/ or fuzz/;
- anything else (option layouts, tcpdump text, numbers, sysctl settings, prose) is not
  an identifier and is skipped; -v prints every token and its verdict.

usage: check_rfc_map.py ROOT [--map FILE] [-v]
"""
import glob
import os
import re
import sys

IDENT = re.compile(r'^-?[A-Za-z_][A-Za-z0-9_]*(?:(?:->|\.)[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?$')
TEST = re.compile(r'^test_[A-Za-z0-9_*]+$')
PATHLIKE = re.compile(r'^[\w./*-]+$')
SOURCE_DIRS = ('src', 'include', 'tools', 'tests', 'fuzz')
SOURCE_EXT = ('.c', '.h', '.pkt', '.sh', '.py')


def read_sources(root):
    words, tests = set(), set()
    for top in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if not f.endswith(SOURCE_EXT):
                    continue
                with open(os.path.join(dirpath, f), encoding='utf-8', errors='replace') as fh:
                    text = fh.read()
                words.update(re.findall(r'[A-Za-z_][A-Za-z0-9_]*', text))
                if dirpath.startswith(os.path.join(root, 'tests')):
                    tests.update(re.findall(r'\b(test_[A-Za-z0-9_]+)\s*\(', text))
                    # Tests a macro defines for each state: test_##name##_suffix stands for test_*_suffix.
                    tests.update('test_*_' + m for m in re.findall(r'\btest_##\w+##_([A-Za-z0-9_]+)\s*\(', text))
    return words, tests


def verdict(token, root, words, tests):
    """(ok, kind): ok is None for a token that is not an identifier."""
    if '/' in token or token.endswith(('.c', '.h', '.md', '.pkt', '.sh')):
        if not PATHLIKE.match(token):
            return None, 'not a path'
        path = token if '/' in token else os.path.join('tests', 'drill', token)
        if '*' in path:
            return bool(glob.glob(os.path.join(root, path))), 'path'
        return os.path.exists(os.path.join(root, path)), 'path'
    if TEST.match(token):
        rx = re.compile('^' + re.escape(token).replace(r'\*', '.*') + '$')
        if any(rx.match(t) for t in tests):
            return True, 'test'
        # A concrete name a per-state macro generates (test_close_wait_... from test_*_...).
        templates = [re.compile('^' + re.escape(t).replace(r'\*', '[a-z0-9_]+') + '$') for t in tests if '*' in t]
        return any(t.match(token) for t in templates), 'test'
    if IDENT.match(token):
        parts = re.findall(r'[A-Za-z_][A-Za-z0-9_]*', token)
        return all(p in words for p in parts), 'identifier'
    return None, 'not an identifier'


def main(argv):
    args = [a for a in argv[1:] if a != '-v']
    verbose = '-v' in argv[1:]
    if not args or args[0].startswith('-'):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    root = args[0]
    map_path = os.path.join(root, 'docs', 'rfc-map.md')
    if len(args) == 3 and args[1] == '--map':
        map_path = args[2]
    elif len(args) != 1:
        print('usage: check_rfc_map.py ROOT [--map FILE] [-v]', file=sys.stderr)
        return 2
    words, tests = read_sources(root)
    missing, counts = [], {'path': 0, 'test': 0, 'identifier': 0, 'skipped': 0}
    with open(map_path, encoding='utf-8') as fh:
        for lineno, line in enumerate(fh, 1):
            for token in re.findall(r'`([^`]+)`', line):
                ok, kind = verdict(token.strip(), root, words, tests)
                if ok is None:
                    counts['skipped'] += 1
                else:
                    counts[kind] += 1
                if verbose:
                    print(f'{lineno}: {token!r}: {kind}: ' + ('skipped' if ok is None else 'ok' if ok else 'MISSING'))
                if ok is False:
                    missing.append((lineno, token, kind))
    for lineno, token, kind in missing:
        print(f'{map_path}:{lineno}: {kind} `{token}` does not exist in the tree')
    summary = (f"{counts['identifier']} identifiers, {counts['test']} tests, {counts['path']} paths checked, "
               f"{counts['skipped']} tokens that are not identifiers skipped")
    if missing:
        print(f'{len(missing)} cited names missing; {summary}')
        return 1
    print(f'rfc-map: every cited name exists: {summary}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
