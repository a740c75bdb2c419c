#!/usr/bin/env python3
"""bench/cfg_diff/gen_broken.py - writes broken and edge-case variants of
riffle's configurations into a folder, for bench/cfg_diff/run.sh.

Usage: gen_broken.py OUT_DIR BASE.cfg...

Text edits, no parser: each `key = value;` of a base removed, or its value
replaced by each of VALUES (wrong types, out of range, unknown names, too
long); each key the loader knows inserted with each of VALUES into its
group (groups a base lacks are appended with their required keys); an
unknown key in each group; seeded random pairs of those edits; and every
two keys of a group (fields included) set to an empty group, a wrong type
for each, so that which of two errors is reported first is compared for
every pair of keys the loader reads.
"""
import os
import random
import re
import sys

VALUES = [
    '"x"', '""', '"a*b"', '"route"', '"json"', '"text"', '"ms"', '"s"',
    '"noise"', '"mask"', '"coarsen"', '"encrypt"', '"pseudonym"', '"drop"',
    '"bucketize"', '"log1p"', '"sasl_ssl"', '"ssl"', '"PLAIN"',
    '"page_hinkley"', '"adwin"', '"none"', '"at_least_once"',
    '"exactly_once"', '"earliest"', '"latest"', '"event"', '"ignore"',
    '"zscore"', '"iqr"', '"mad"', '"day"', '"mean"', '"median"', '"mode"',
    '"token"', '"constant"', '"clip"', '"missing"', '"ftrl"', '"adam"',
    '"sgd"', '"squared"', '"hinge"', '"numeric"', '"categorical"',
    '"label"', '"id"', '"a:b"', '"' + 'k' * 70 + '"', '"' + 'a' * 200 + '"',
    '"' + 'p' * 1100 + '"', '0', '-1', '1', '2', '3', '5', '10', '17', '29',
    '100', '5000', '20000', '65536', '65537', '4294967295', '4294967296',
    '1000000000000', '99999999999999999', '0.0', '0.05', '0.5', '1.0', '1.5',
    '-0.5', '30.0', '1e300', '1e301', '-1e301', 'true', 'false', '[]',
    '["a"]', '["a", "b"]', '["UP", "DOWN"]', '[1.0, 2.0]', '[2.0, 1.0]',
    '( ["a", "b"] )', '( ["a"] )', '{}', '( )',
]

SECTIONS = {
    'kafka': ['brokers', 'group_id', 'security_protocol', 'sasl_mechanism',
              'sasl_username', 'sasl_password_file', 'ssl_ca_file',
              'ssl_certificate_file', 'ssl_key_file',
              'ssl_key_password_file', 'ssl_verify_hostname',
              'session_timeout_ms'],
    'topics': ['input', 'predictions', 'models', 'dead_letters', 'metrics',
               'alerts', 'partitions', 'replication_factor'],
    'source': ['schema', 'path', 'header', 'delimiter', 'trim',
               'skip_lines', 'columns', 'missing', 'id_prefix',
               'on_bad_row'],
    'privacy': ['key_file', 'key_env', 'key_id', 'encrypt_key_env',
                'encrypt_key_file', 'encrypt_key_id', 'dead_letter_key_env',
                'dead_letter_key_file', 'dead_letter_key_id', 'k_anonymity',
                'prediction_fields'],
    'k_anonymity': ['quasi_identifiers', 'k', 'window'],
    'learner': ['model_name', 'bits', 'loss', 'optimizer', 'learning_rate',
                'power_t', 'l2', 'gradient_clip', 'hash_seed',
                'interactions', 'count_collisions', 'l1', 'beta1', 'beta2',
                'rho', 'epsilon', 'ftrl_beta'],
    'drift': ['detector', 'delta', 'lambda', 'react', 'metrics_every'],
    'snapshot': ['every_events', 'every_seconds', 'chunk_bytes',
                 'on_offset_past_end'],
    'delivery': ['mode', 'batch_events', 'batch_ms', 'transactional_id',
                 'transaction_timeout_ms'],
    'scaling': ['merge_every_events', 'merge_every_seconds',
                'instance_expiry_seconds'],
    'log': ['progress_every', 'format'],
    'serve': ['requests', 'predictions', 'group_id', 'partitions',
              'commit_every_ms', 'http_address', 'http_port',
              'http_max_body_bytes', 'http_timeout_seconds', 'http_threads',
              'delivery', 'transaction_timeout_ms'],
    'join': ['topic', 'schema', 'key', 'profile_key', 'map', 'window',
             'max_keys', 'event_time'],
    'labels': ['topic', 'format', 'ttl', 'max_pending', 'on_unknown',
               'on_expired', 'on_duplicate'],
    'cleaning': ['dedup_window', 'event_time', 'event_time_unit',
                 'allowed_lateness', 'on_late', 'late_topic'],
}
FIELD_KEYS = [
    'name', 'kind', 'required', 'missing', 'indicator', 'impute_value',
    'min', 'max', 'on_range', 'transform', 'max_length', 'personal', 'band',
    'keep_prefix', 'positive', 'negative', 'namespace', 'buckets', 'classes',
    'allowed', 'pattern', 'on_invalid', 'outlier', 'outlier_threshold',
    'on_outlier', 'outlier_warmup', 'threshold', 'relabel', 'date',
    'keep_last', 'epsilon', 'sensitivity']
# Groups a base may lack, with what they need to get past their first key.
APPEND = {
    'serve': 'requests = "rq"; predictions = "rp";',
    'join': 'topic = "jt"; schema = "schemas/elec2.avsc"; key = "k"; '
            'map = ( ["a", "b"] );',
    'labels': 'topic = "lt";',
    'cleaning': '', 'delivery': '', 'scaling': '', 'drift': '',
    'privacy': '', 'snapshot': '', 'log': '', 'kafka': '',
}
ASSIGN = re.compile(r'\b(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|\[[^\]]*\]|'
                    r'\((?:[^()]|\([^()]*\)|\[[^\]]*\])*\)|[^;{(]+?)\s*;')


def edits_of(text):
    """Every single edit of text, as functions from text to text."""
    edits = []
    for m in ASSIGN.finditer(text):
        s, e, vs, ve = m.start(), m.end(), m.start(2), m.end(2)
        edits.append(lambda t, s=s, e=e: t[:s] + t[e:])
        for v in VALUES:
            edits.append(lambda t, vs=vs, ve=ve, v=v: t[:vs] + v + t[ve:])
    for sec, keys in SECTIONS.items():
        m = re.search(r'^\s*' + sec + r'\s*=\s*\{', text, re.M)
        if m:
            at = m.end()
            for k in keys + ['no_such_key']:
                for v in VALUES if k != 'no_such_key' else ['1']:
                    edits.append(lambda t, at=at, k=k, v=v:
                                 t[:at] + ' %s = %s; ' % (k, v) + t[at:])
        elif sec in APPEND:
            base = APPEND[sec]
            for k in keys + ['no_such_key']:
                for v in VALUES if k != 'no_such_key' else ['1']:
                    edits.append(lambda t, sec=sec, base=base, k=k, v=v:
                                 t + '\n%s = { %s %s = %s; };\n'
                                 % (sec, base, k, v))
    # One field group of each kind the base has.
    seen = set()
    for m in re.finditer(r'\{\s*name\s*=\s*"[^"]*";\s*kind\s*=\s*"(\w+)";',
                         text):
        if m.group(1) in seen:
            continue
        seen.add(m.group(1))
        at = m.end()
        for k in FIELD_KEYS + ['no_such_key']:
            for v in VALUES if k != 'no_such_key' else ['1']:
                edits.append(lambda t, at=at, k=k, v=v:
                             t[:at] + ' %s = %s; ' % (k, v) + t[at:])
    return edits


def pair_edits(text):
    """Every two keys of each group at once, both of the wrong type."""
    edits = []
    groups = []
    for sec, keys in SECTIONS.items():
        m = re.search(r'^\s*' + sec + r'\s*=\s*\{', text, re.M)
        if m:
            groups.append((keys, m.end(), None))
        elif sec in APPEND:
            groups.append((keys, None, (sec, APPEND[sec])))
    seen = set()
    for m in re.finditer(r'\{\s*name\s*=\s*"[^"]*";\s*kind\s*=\s*"(\w+)";',
                         text):
        if m.group(1) not in seen:
            seen.add(m.group(1))
            groups.append((FIELD_KEYS, m.end(), None))
    for keys, at, append in groups:
        # Keys the group sets already (up to its first '}') are left out:
        # setting them twice is a syntax error, not the loader's.
        own = append[1] if append else text[at:text.find('}', at)]
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                ins = ' %s = {}; %s = {}; ' % (a, b)
                if re.search(r'\b(%s|%s)\s*=' % (a, b), own):
                    continue
                if at is not None:
                    edits.append(lambda t, at=at, ins=ins:
                                 t[:at] + ins + t[at:])
                else:
                    edits.append(lambda t, sec=append[0], base=append[1],
                                 ins=ins:
                                 t + '\n%s = { %s %s};\n' % (sec, base, ins))
    return edits


def main():
    out, bases = sys.argv[1], sys.argv[2:]
    rng = random.Random(20261206)
    os.makedirs(out, exist_ok=True)
    n = 0
    for b in bases:
        text = open(b).read()
        stem = os.path.basename(b).rsplit('.', 1)[0]
        edits = edits_of(text)
        for i, ed in enumerate(edits):
            with open(os.path.join(out, '%s-%05d.cfg' % (stem, i)), 'w') as f:
                f.write(ed(text))
            n += 1
        # Pairs: the later edit is applied first, so that offsets hold.
        for i in range(len(edits) // 4):
            a, c = sorted(rng.sample(range(len(edits)), 2))
            try:
                t = edits[a](edits[c](text))
            except IndexError:
                continue
            with open(os.path.join(out, '%s-p%05d.cfg' % (stem, i)), 'w') as f:
                f.write(t)
            n += 1
        for i, ed in enumerate(pair_edits(text)):
            with open(os.path.join(out, '%s-k%05d.cfg' % (stem, i)), 'w') as f:
                f.write(ed(text))
            n += 1
    print('%d files in %s' % (n, out))


if __name__ == '__main__':
    main()
