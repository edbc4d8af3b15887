#!/usr/bin/env python3
"""Checks the YAML under examples/ (run by .ci/test; needs PyYAML).

Every .yaml/.yml file must parse. Every container of every Pod (or of a
workload's pod template) must run dinit as its command, with a stop budget
`-t` that ends the stop before the kubelet's SIGKILL:

  -t + the preStop hook's sleep < terminationGracePeriodSeconds (default 30),
  -k <= -t (a kill timeout longer than the budget is never reached),

and a container of the php-nginx image must run the same commands as
examples/php-nginx/Dockerfile's CMD (only dinit's options may differ), so the
manifest cannot drift from the image that is tested.

    python3 Tests/Examples/check-yaml.py        # prints what it checked; exit 1 on a problem
"""
import json
import os
import re
import sys

import yaml

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples')
DEFAULT_GRACE = 30  # Kubernetes' default terminationGracePeriodSeconds


def dockerfile_cmd(path):
    text = re.sub(r'\\\n', ' ', open(path).read())
    cmds = [l.strip()[4:] for l in text.splitlines() if l.strip().startswith('CMD ')]
    return json.loads(cmds[-1])


def split_options(argv):
    """dinit's options (as a dict) and the command list from the first `--` on."""
    opts, i = {}, 1
    while i < len(argv) and argv[i] != '--':
        a = argv[i]
        if a in ('-d', '-k', '-t', '-r', '-e') and i + 1 < len(argv):
            opts[a] = argv[i + 1]
            i += 2
        else:
            opts[a] = None
            i += 1
    return opts, argv[i:]


def pod_specs(doc):
    """(where, pod spec) for a Pod and for workloads with a pod template."""
    if not isinstance(doc, dict):
        return []
    spec = doc.get('spec') or {}
    if doc.get('kind') == 'Pod':
        return [(doc.get('metadata', {}).get('name', '?'), spec)]
    template = (spec.get('jobTemplate', {}).get('spec', spec)).get('template')
    if isinstance(template, dict) and 'spec' in template:
        return [(doc.get('metadata', {}).get('name', '?'), template['spec'])]
    return []


def prestop_sleep(container):
    """Seconds a preStop hook spends sleeping (it counts against the grace period)."""
    pre = (container.get('lifecycle') or {}).get('preStop') or {}
    if 'sleep' in pre:
        return float(pre['sleep']['seconds'])
    cmd = (pre.get('exec') or {}).get('command') or []
    if len(cmd) == 2 and os.path.basename(cmd[0]) == 'sleep':
        return float(cmd[1])
    if cmd:
        raise ValueError('preStop exec %r: cannot tell how long it takes' % cmd)
    return 0.0


def check_container(where, spec, c, php_nginx_cmd, problems, notes):
    name = '%s/%s' % (where, c.get('name', '?'))
    cmd = c.get('command')
    if not cmd or os.path.basename(str(cmd[0])) != 'dinit':
        problems.append('%s: command[0] is not dinit: %r' % (name, cmd and cmd[0]))
        return
    if not all(isinstance(a, str) for a in cmd):
        problems.append('%s: command has a non-string argument (quote numbers): %r' % (name, cmd))
        return
    opts, commands = split_options(cmd)
    if not commands:
        problems.append('%s: no command after dinit\'s options' % name)
    grace = spec.get('terminationGracePeriodSeconds', DEFAULT_GRACE)
    try:
        t = float(opts['-t'])
        k = float(opts.get('-k', '5'))
        pre = prestop_sleep(c)
    except KeyError:
        problems.append('%s: no stop budget -t (it must end the stop before the grace period of %s s)'
                        % (name, grace))
        return
    except (TypeError, ValueError) as e:
        problems.append('%s: %s' % (name, e))
        return
    if not 0 < t < grace - pre:
        problems.append('%s: -t %g must be below terminationGracePeriodSeconds %s minus preStop %g s'
                        % (name, t, grace, pre))
    if k > t:
        problems.append('%s: -k %g exceeds -t %g' % (name, k, t))
    if 'php-nginx' in str(c.get('image', '')):
        want = split_options(php_nginx_cmd)[1]
        if commands != want:
            problems.append('%s: commands differ from examples/php-nginx/Dockerfile\'s CMD:\n  %r\n  %r'
                            % (name, commands, want))
        else:
            notes.append('%s: same commands as the php-nginx Dockerfile\'s CMD' % name)
    notes.append('%s: dinit -k %g -t %g, preStop %g s, grace period %s s' % (name, k, t, pre, grace))


def main():
    php_nginx_cmd = dockerfile_cmd(os.path.join(EXAMPLES, 'php-nginx', 'Dockerfile'))
    problems, notes, files, pods = [], [], 0, 0
    for root, dirs, names in os.walk(EXAMPLES):
        dirs.sort()
        for n in sorted(names):
            if not n.endswith(('.yaml', '.yml')):
                continue
            path = os.path.join(root, n)
            rel = os.path.relpath(path, EXAMPLES)
            files += 1
            try:
                docs = list(yaml.safe_load_all(open(path)))
            except yaml.YAMLError as e:
                problems.append('%s: does not parse: %s' % (rel, e))
                continue
            for doc in docs:
                for where, spec in pod_specs(doc):
                    pods += 1
                    containers = spec.get('containers') or []
                    if not containers:
                        problems.append('%s: %s has no containers' % (rel, where))
                    for c in containers:
                        check_container(rel + ':' + where, spec, c, php_nginx_cmd, problems, notes)
    if pods == 0:
        problems.append('no Pod found in %d YAML file(s) under examples/' % files)
    for n in notes:
        print('  ok   ' + n)
    for p in problems:
        print('  FAIL ' + p)
    print('%d YAML file(s), %d pod spec(s), %d problem(s)' % (files, pods, len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
