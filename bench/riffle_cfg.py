"""Read a riffle configuration (libconfig syntax) for the benchmark.

The peers must learn from the same features riffle builds, so the
benchmark reads them from the very .cfg file that `riffle train` runs
with, rather than from a second description that could drift. This is a
small reader for the part of libconfig the configurations use: settings
(`name = value;` or `name : value;`), groups `{}`, lists `()`, arrays `[]`,
strings (adjacent ones concatenated), integers, floats, booleans and the
three comment styles. It is no validator: `riffle check` is.
"""

import re

_TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)L?)
  | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,{}()\[\]])
""", re.VERBOSE | re.DOTALL)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "\\": "\\",
            '"': '"'}


class CfgError(Exception):
    pass


def _tokens(text):
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise CfgError(f"line {line}: cannot read {text[pos:pos+20]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            yield kind, m.group(kind)


def _unquote(s):
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)),
                  s[1:-1])


class _Parser:
    def __init__(self, text):
        self.toks = list(_tokens(text))
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            raise CfgError(f"expected {value or 'a value'}, got {tok[1]!r}")
        self.i += 1
        return tok

    def settings(self, end):
        out = {}
        while self.peek()[1] != end:
            kind, name = self.take()
            if kind != "name":
                raise CfgError(f"expected a setting name, got {name!r}")
            if self.peek()[1] not in ("=", ":"):
                raise CfgError(f"expected = after {name}")
            self.take()
            out[name] = self.value()
            if self.peek()[1] in (";", ","):
                self.take()
        return out

    def value(self):
        kind, tok = self.take()
        if kind == "str":
            s = _unquote(tok)
            while self.peek()[0] == "str":
                s += _unquote(self.take()[1])
            return s
        if kind == "num":
            t = tok.rstrip("L")
            if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", t):
                return int(t, 16)
            if re.fullmatch(r"[-+]?\d+", t):
                return int(t)
            return float(t)
        if kind == "name" and tok.lower() in ("true", "false"):
            return tok.lower() == "true"
        if tok == "{":
            out = self.settings("}")
            self.take("}")
            return out
        if tok in ("(", "["):
            end = ")" if tok == "(" else "]"
            items = []
            while self.peek()[1] != end:
                items.append(self.value())
                if self.peek()[1] == ",":
                    self.take()
            self.take(end)
            return items
        raise CfgError(f"unexpected {tok!r}")


def load(path):
    """Returns the configuration file as nested dicts and lists."""
    with open(path, encoding="utf-8") as f:
        parser = _Parser(f.read())
    out = parser.settings(None)
    return out
