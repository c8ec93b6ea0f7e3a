#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every public function of libmqota is documented (docs/STYLE: @brief, @param[in|out] for each
parameter, @return for a non-void one), issue 10 item 3.

usage: check_header_docs.py INCLUDE_DIR   (device/include/mqota)

Checks each prototype, and each function-like macro named mqota_*() (mqota_agent_init), in the
headers: the doc comment just before it has @brief; one @param[in], [out] or [in,out] per
parameter, naming it; no @param for a parameter that does not exist; @return unless it returns
void, and a function returning mqota_status_t names MQOTA_OK there. Prints one line per
function that falls short and exits 1; "N functions checked" otherwise.
"""
import glob
import os
import re
import sys

DECL = re.compile(
    r'(/\*\*(?:(?!\*/).)*?\*/)\s*\n'                      # the doc comment
    r'((?:const\s+)?[a-z_][a-z0-9_]*[\s*]+(mqota_[a-z0-9_]+)\(([^;{]*?)\);'  # a prototype
    r'|#define\s+(mqota_[a-z0-9_]+)\(([^)]*)\))',          # or a function-like macro
    re.S)
ANY_DECL = re.compile(r'^(?:const\s+)?[a-z_][a-z0-9_]*[\s*]+(mqota_[a-z0-9_]+)\(', re.M)


def param_names(args):
    args = args.strip()
    if not args or args == 'void':
        return []
    names = []
    for a in re.split(r',(?![^()\[\]]*[\)\]])', args):
        m = re.search(r'([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$', a.strip())
        names.append(m.group(1) if m else a.strip())
    return names


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print('usage: check_header_docs.py INCLUDE_DIR', file=sys.stderr)
        return 2
    checked, problems, seen = 0, [], set()
    for path in sorted(glob.glob(os.path.join(sys.argv[1], '*.h'))):
        text = open(path, encoding='utf-8').read()
        base = os.path.basename(path)
        for m in DECL.finditer(text):
            doc = m.group(1)
            if m.group(3):
                name, args, ret = m.group(3), m.group(4), m.group(2).split(m.group(3))[0].strip()
            else:
                name, args, ret = m.group(5), m.group(6), 'macro'
            seen.add(name)
            checked += 1
            miss = []
            if '@brief' not in doc:
                miss.append('no @brief')
            names = param_names(args)
            for p in names:
                if not re.search(r'@param\[(in|out|in,out)\]\s+' + re.escape(p) + r'\b', doc):
                    miss.append('no @param[in|out] ' + p)
            for p in re.findall(r'@param(?:\[[a-z,]+\])?\s+([A-Za-z_][A-Za-z0-9_]*)', doc):
                if p not in names:
                    miss.append('@param ' + p + ' is not a parameter')
            if ret != 'void' and '@return' not in doc:
                miss.append('no @return')
            if ret == 'mqota_status_t' and not re.search(r'@return[^@]*MQOTA_OK', doc):
                miss.append('@return does not list MQOTA_OK')
            if miss:
                problems.append(f'{base}: {name}(): ' + '; '.join(miss))
        for m in ANY_DECL.finditer(text):
            if m.group(1) not in seen:
                problems.append(f'{base}: {m.group(1)}(): no doc comment just before it')
                seen.add(m.group(1))
    for p in problems:
        print('FAIL: ' + p)
    if checked == 0:
        print('FAIL: no function found in ' + sys.argv[1])
        return 1
    print(f'{checked} functions checked, {len(problems)} incomplete')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
