"""Chinese text analysis shared by every search engine.

Both engines index text that this module has already segmented (tokens joined by spaces),
so Whoosh and Tantivy see exactly the same tokens and answer the same queries the same way.

- Normalisation: NFKC (full-width → half-width), case-folding, traditional → simplified
  (OpenCC t2s: 課件 → 课件, 檸檬 → 柠檬), Chinese numerals in ordinals (第三课 → 第3课).
- Segmentation: rjieba (jieba-rs) in search mode for indexing (勾股定理 → 勾股, 定理, 勾股定理)
  and precise mode for queries, with an education user dictionary (data/edu_words.txt) plus
  every vocabulary name and alias, so 统编版, 导学案, 勾股 stay whole.
- Digits and Latin are kept (第3课 → 第, 3, 课 and the ordinal 第3课; PEP → pep; 3D打印 → 3d, 打印).
- Pinyin for titles: full spelling and initials of runs of up to four consecutive words
  (勾股定理 课件 → gougu dingli gougudingli ggdl … kejian kj), so `gougu` and `ggdl` find
  勾股定理; and `sounds` tokens ("gougudingli:勾股定理") that let "did you mean" correct
  homophone typos typed with a pinyin input method (勾古定理 → 勾股定理).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Iterable

__all__ = ["Analyzer", "STOPWORDS", "is_cjk_word", "is_ascii_word", "is_ordinal"]

_WORDS_FILE = Path(__file__).parent / "data" / "edu_words.txt"
_MAX_PINYIN_RUN = 4
# Function words and punctuation-like tokens that only add cost to queries and indexes.
STOPWORDS = frozenset("的 了 和 与 及 或 在 是 为 对 以 之 于 把 被 也 都 就 而 并 等 其 这 那 有 个 一个 "
                      "the a an of and or to in on for with".split())
_CN_NUM = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9, "十": 10}
_ORDINAL = re.compile(r"第([零〇一二两三四五六七八九十]{1,3})(课时|课|单元|章|节|册|讲|周|次)")
_ORDINAL_DIGITS = re.compile(r"第(\d{1,3})(课时|课|单元|章|节|册|讲|周|次)")
_TOKEN_OK = re.compile(r"\w", re.UNICODE)
_ASCII_RUN = re.compile(r"[a-z0-9]+")


_KEPT: dict[str, str] = {}   # raw token → the token to keep ("" = drop); shared, grows slowly
_KEPT_MAX = 500_000


def _kept_form(token: str) -> str:
    """The token stripped, or "" for whitespace, punctuation and stop words."""
    form = token.strip()
    return form if _TOKEN_OK.search(form) and form not in STOPWORDS else ""


def _cn_to_int(text: str) -> int | None:
    """一 → 1, 十二 → 12, 二十三 → 23 (ordinals in lesson names stay below 100)."""
    if any(ch not in _CN_NUM for ch in text):
        return None
    if "十" not in text:
        return _CN_NUM[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    return (_CN_NUM[tens] if tens else 1) * 10 + (_CN_NUM[ones] if ones else 0)


def _ordinal_digits(match: re.Match) -> str:
    number = _cn_to_int(match.group(1))
    return f"第{number}{match.group(2)}" if number is not None else match.group(0)


def is_cjk_word(token: str) -> bool:
    return bool(token) and all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in token)


def is_ascii_word(token: str) -> bool:
    return token.isascii() and token.isalpha()


def is_ordinal(token: str) -> bool:
    """第3课, 第1册: indexed whole wherever the text has it (in digits or in Chinese numerals)."""
    return _ORDINAL_DIGITS.fullmatch(token) is not None


class Analyzer:
    """Normalise and segment Chinese text for indexing and querying. Thread-safe to use
    once built; build one per process (loading the dictionary takes ~0.1 s)."""

    def __init__(self, extra_words: Iterable[str] = ()) -> None:
        import opencc
        import rjieba

        self._t2s = opencc.OpenCC("t2s")
        self._jieba = rjieba.Jieba()
        self._lock = threading.Lock()  # jieba-rs is not documented as thread-safe
        words = [line.strip() for line in _WORDS_FILE.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.startswith("#")]
        for word in [*words, *extra_words]:
            self.add_word(word)

    def add_word(self, word: str) -> None:
        word = self.normalize(word).replace(" ", "")
        if len(word) >= 2 and not word.isascii():
            with self._lock:
                self._jieba.add_word(word, max(self._jieba.suggest_freq(word), 1), None)

    # -- normalisation --------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).casefold()
        text = self._t2s.convert(text)
        return _ORDINAL.sub(_ordinal_digits, text)

    # -- tokens ---------------------------------------------------------------------------
    def _cut(self, text: str, search: bool) -> list[str]:
        with self._lock:
            raw = self._jieba.cut_for_search(text, True) if search else self._jieba.cut(text, True)
        # Tokens repeat a lot (2 KB of text is ~700 tokens from a vocabulary of thousands), so
        # the keep/drop decision is memoised per distinct token: this loop is the hot spot of
        # indexing, not the segmentation itself.
        forms = list(map(_KEPT.get, raw))  # C-speed lookups; None = first sight of a token
        if None in forms:
            for i, form in enumerate(forms):
                if form is None:
                    forms[i] = form = _kept_form(raw[i])
                    if len(_KEPT) < _KEPT_MAX:  # bounded: a flood of unique tokens stays uncached
                        _KEPT[raw[i]] = form
        return list(filter(None, forms))

    def index_tokens(self, text: str) -> list[str]:
        """Tokens to index for a text: search-mode words plus whole ordinals (第3课)."""
        normalized = self.normalize(text)
        tokens = self._cut(normalized, search=True)
        tokens += [m.group(0) for m in _ORDINAL_DIGITS.finditer(normalized)]
        tokens += _ASCII_RUN.findall(normalized)  # 3d inside 3d打印, pep inside 人教pep版
        return tokens

    def query_words(self, text: str) -> list[str]:
        """The words a query asks for, in precise mode (each becomes one AND clause)."""
        normalized = self.normalize(text)
        words = self._cut(normalized, search=False)
        ordinals = [m.group(0) for m in _ORDINAL_DIGITS.finditer(normalized)]
        if ordinals:  # 第3课 as one clause instead of 第 + 3 + 课
            parts = set()
            for ordinal in ordinals:
                parts.update(self._cut(ordinal, search=False))
            words = [w for w in words if w not in parts] + ordinals
        return list(dict.fromkeys(words))

    def subwords(self, word: str) -> list[str]:
        """The smaller dictionary words inside a word (数学课 → 数学): an alternative way for a
        query word to match text the indexer segmented differently."""
        return [t for t in self._cut(word, search=True) if t != word]

    # -- pinyin ---------------------------------------------------------------------------
    def pinyin_tokens(self, title: str) -> tuple[list[str], list[str]]:
        """(pinyin tokens, sounds tokens) of a title; see the module docstring."""
        words = [w for w in self._cut(self.normalize(title), search=False) if is_cjk_word(w)]
        spelled = [(w, *_spell(w)) for w in words]
        tokens: list[str] = []
        for start in range(len(spelled)):
            for end in range(start + 1, min(start + _MAX_PINYIN_RUN, len(spelled)) + 1):
                run = spelled[start:end]
                tokens.append("".join(full for _, full, _ in run))
                if end - start > 1 or len(run[0][0]) > 1:
                    tokens.append("".join(initials for _, _, initials in run))
        for word in words:  # parts of long words too: gougu and gg find 勾股定理
            for part in self.subwords(word):
                if is_cjk_word(part) and len(part) > 1:
                    tokens += _spell(part)
        sounds = [f"{full}:{word}" for word, full, _ in spelled if len(word) > 1]
        return list(dict.fromkeys(tokens)), list(dict.fromkeys(sounds))

    def spell(self, word: str) -> str:
        """Full pinyin of a (normalised) word, for homophone lookups."""
        return _spell(word)[0]


@lru_cache(maxsize=65536)
def _spell(word: str) -> tuple[str, str]:
    """(full pinyin, initials) of a Chinese word, tones dropped."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(word, style=Style.NORMAL, errors="ignore")
    return "".join(syllables), "".join(s[0] for s in syllables if s)
