"""Text that crosses a trust boundary: single-line fields and secret comparisons.

- `single_line`: a field shown on one line (an e-mail Subject, a name, a description on a PDF line)
  never carries a line break or another control character: CR, LF, tab, the Unicode line and
  paragraph separators and every C0/C1 control are collapsed with the spaces around them into one
  space ("Help\\r\\nBcc: x" -> "Help Bcc: x"), so nothing a customer types can start a new e-mail
  header or PDF line. The e-mail gateway (functions/core/email.py) applies it to every Subject; request
  schemas apply it to their single-line fields (functions/core/schemas.py `SingleLine`).
- `same_secret`: constant-time equality of two strings whatever they hold. `hmac.compare_digest` on
  `str` raises TypeError for non-ASCII text (a 500 on a forged cursor or signature): compare UTF-8 bytes.
"""

from __future__ import annotations

import hmac
import re

# C0 controls (tab, LF, CR included), DEL, C1 controls (NEL included), line and paragraph separators.
_BREAKING = "\x00-\x1f\x7f-\x9f\u2028\u2029"
_RUN = re.compile(f"[ {_BREAKING}]*[{_BREAKING}][ {_BREAKING}]*")


def single_line(text: str) -> str:
    """`text` with every run of control characters (and the spaces around it) collapsed into one space, ends trimmed."""
    return _RUN.sub(" ", text).strip()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time equality of two strings of any characters (a client's token against ours)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))
