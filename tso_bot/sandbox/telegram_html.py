"""Telegram's HTML formatting subset: parsing, validation and rendering.

The sandbox emulator must reject exactly the messages Telegram would reject, otherwise a
formatting bug only shows up in production ("can't parse entities ..."). This module is a
port of the rules of TDLib's ``parse_html`` (the code behind ``parse_mode=HTML``), made a
little stricter where strictness catches real bugs: a bare ``&`` that does not start one of
the supported entities is an error here (Telegram keeps it literally, but it almost always
means the bot forgot ``html.escape``).

Offsets and lengths of entities are in UTF-16 code units, like the Bot API.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Entity",
    "FormattedText",
    "HtmlParseError",
    "entities_from_api",
    "entities_to_html",
    "parse_html",
    "trim_formatted",
    "utf16_len",
]

#: Tags accepted by Telegram, mapped to the entity type they produce.
_TAG_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

#: Named entities Telegram decodes (numeric ones are decoded too).
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

#: Tie-breaker when two entities cover the same span: outer (block-ish) entities first.
_TYPE_ORDER = [
    "blockquote",
    "expandable_blockquote",
    "pre",
    "text_link",
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "code",
    "custom_emoji",
]

#: Whitespace Telegram trims around a message (what TDLib's ``is_space`` accepts).
_TRIM_CHARS = " \t\r\n\v\f"

_LINK_SCHEMES = {"http", "https", "tg", "ftp", "mailto"}
_BARE_DOMAIN = re.compile(r"^[\w-]+(\.[\w-]+)+([/?#].*)?$")
_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,7}|[a-zA-Z]+);")


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(err)`` mimics Telegram's reason."""

    def __init__(self, reason: str, byte_offset: int | None = None) -> None:
        self.reason = reason
        self.byte_offset = byte_offset
        suffix = "" if byte_offset is None else f" at byte offset {byte_offset}"
        super().__init__(f"{reason}{suffix}")


@dataclass(frozen=True)
class Entity:
    """One Bot API ``MessageEntity`` (offset/length in UTF-16 code units)."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    def to_api(self) -> dict[str, Any]:
        """The JSON object the Bot API would return for this entity."""
        data: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            data["url"] = self.url
        if self.language is not None:
            data["language"] = self.language
        if self.custom_emoji_id is not None:
            data["custom_emoji_id"] = self.custom_emoji_id
        return data


@dataclass(frozen=True)
class FormattedText:
    """Plain text plus its entities: what Telegram stores for a formatted message."""

    text: str
    entities: tuple[Entity, ...] = field(default_factory=tuple)

    def entities_api(self) -> list[dict[str, Any]]:
        return [entity.to_api() for entity in self.entities]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how Telegram counts characters and offsets."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_start: int
    byte_offset: int


class _HtmlParser:
    """Single-pass scanner; one instance per ``parse_html`` call."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[Entity] = []

    # -- helpers ---------------------------------------------------------------------------

    def byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8"))

    def peek(self, index: int | None = None) -> str:
        """Character at ``index`` (default: current position), '' past the end."""
        i = self.pos if index is None else index
        return self.src[i] if i < len(self.src) else ""

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.utf16 += utf16_len(text)

    def error(self, reason: str, index: int) -> HtmlParseError:
        return HtmlParseError(reason, self.byte_offset(index))

    # -- entities (&...;) ------------------------------------------------------------------

    def decode_entity(self, index: int) -> tuple[str, int] | None:
        """Decode the HTML entity starting at ``index`` ('&'); return (char, end index)."""
        match = _ENTITY_RE.match(self.src, index)
        if match is None:
            return None
        body = match.group(1)
        if body.startswith("#"):
            digits = body[1:]
            code = int(digits[1:], 16) if digits[:1] in ("x", "X") else int(digits)
            if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                return None
            return chr(code), match.end()
        char = _NAMED_ENTITIES.get(body)
        return None if char is None else (char, match.end())

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> FormattedText:
        text_start = 0
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char not in "&<":
                self.pos += 1
                continue
            self.emit(self.src[text_start : self.pos])
            if char == "&":
                self.read_entity()
            elif self.peek(self.pos + 1) == "/":
                self.read_end_tag()
            else:
                self.read_start_tag()
            text_start = self.pos
        self.emit(self.src[text_start:])
        if self.stack:
            tag = self.stack[-1]
            raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{tag.name}"')
        ordered = sorted(self.entities, key=_entity_sort_key)
        return FormattedText("".join(self.out), tuple(ordered))

    def read_entity(self) -> None:
        decoded = self.decode_entity(self.pos)
        if decoded is None:
            raise self.error(
                "Unsupported HTML entity: a bare '&' must be written as &amp;", self.pos
            )
        char, self.pos = decoded
        self.emit(char)

    # -- start tags ----------------------------------------------------------------------------

    def read_start_tag(self) -> None:
        begin = self.pos
        self.pos += 1
        name_start = self.pos
        while self.peek() and not self.peek().isspace() and self.peek() != ">":
            self.pos += 1
        if not self.peek():
            raise self.error("Unclosed start tag", begin)
        name = self.src[name_start : self.pos].lower()
        if name not in _TAG_TYPES:
            raise self.error(f'Unsupported start tag "{name}"', begin)
        attributes = self.read_attributes(name, begin)
        self.pos += 1  # the closing '>'
        argument = self.tag_argument(name, attributes, begin)
        self.stack.append(_OpenTag(name, argument, self.utf16, self.byte_offset(begin)))

    def read_attributes(self, tag: str, begin: int) -> dict[str, str]:
        """Parse ``name="value"`` pairs up to '>' (TDLib's grammar, unknown ones kept)."""
        attributes: dict[str, str] = {}
        while True:
            while self.peek().isspace():
                self.pos += 1
            if self.peek() == ">":
                return attributes
            if not self.peek():
                raise self.error("Unclosed start tag", begin)
            name_start = self.pos
            while self.peek() and not self.peek().isspace() and self.peek() not in "=>":
                self.pos += 1
            name = self.src[name_start : self.pos].lower()
            if not name:
                raise self.error(f'Empty attribute name in the tag "{tag}"', begin)
            while self.peek().isspace():
                self.pos += 1
            if self.peek() != "=":
                if tag == "blockquote" and name == "expandable":
                    attributes[name] = ""
                    continue
                raise self.error(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}"',
                    begin,
                )
            self.pos += 1
            while self.peek().isspace():
                self.pos += 1
            attributes[name] = self.read_attribute_value(begin)

    def read_attribute_value(self, begin: int) -> str:
        quote = self.peek()
        if not quote:
            raise self.error("Unclosed start tag", begin)
        if quote not in "'\"":
            token_start = self.pos
            while self.peek().isalnum() or self.peek() in (".", "-"):
                self.pos += 1
            if not (self.peek().isspace() or self.peek() == ">"):
                raise self.error("Unexpected end of name token", token_start)
            return self.src[token_start : self.pos].lower()
        self.pos += 1
        value: list[str] = []
        while self.peek() and self.peek() != quote:
            if self.peek() == "&" and (decoded := self.decode_entity(self.pos)) is not None:
                char, self.pos = decoded
                value.append(char)
                continue
            value.append(self.peek())
            self.pos += 1
        if not self.peek():
            raise self.error("Unclosed start tag", begin)
        self.pos += 1
        return "".join(value)

    def tag_argument(self, tag: str, attributes: dict[str, str], begin: int) -> str:
        """The one attribute that matters for ``tag``; other attributes are ignored."""
        if tag == "a":
            return attributes.get("href", "")
        if tag == "code":
            css = attributes.get("class", "")
            return css.removeprefix("language-") if css.startswith("language-") else ""
        if tag == "span":
            if attributes.get("class") != "tg-spoiler":
                raise self.error('Tag "span" must have class "tg-spoiler"', begin)
            return "spoiler"
        if tag == "tg-emoji":
            emoji_id = attributes.get("emoji-id", "")
            if not emoji_id.isdigit():
                raise self.error("Custom emoji entity must contain a valid custom emoji id", begin)
            return emoji_id
        if tag == "blockquote":
            return "expandable" if "expandable" in attributes else ""
        return ""

    # -- end tags ----------------------------------------------------------------------------

    def read_end_tag(self) -> None:
        begin = self.pos
        if not self.stack:
            raise self.error("Unexpected end tag", begin)
        self.pos += 2
        name_start = self.pos
        while self.peek() and not self.peek().isspace() and self.peek() != ">":
            self.pos += 1
        if not self.peek():
            raise self.error("Unclosed end tag", begin)
        name = self.src[name_start : self.pos].lower()
        expected = self.stack[-1].name
        if name and name != expected:
            raise self.error(
                f'Unmatched end tag, expected "</{expected}>", found "</{name}>"', begin
            )
        while self.peek().isspace():
            self.pos += 1
        if self.peek() != ">":
            raise self.error("Unclosed end tag", begin)
        self.pos += 1
        self.close(self.stack.pop())

    def close(self, tag: _OpenTag) -> None:
        length = self.utf16 - tag.utf16_start
        if length <= 0:
            return  # Telegram silently drops empty entities
        entity = self.make_entity(tag, length)
        if entity is not None:
            self.entities.append(entity)

    def make_entity(self, tag: _OpenTag, length: int) -> Entity | None:
        kind = _TAG_TYPES[tag.name]
        start = tag.utf16_start
        if kind == "text_link":
            url = _normalise_url(tag.argument)
            return None if url is None else Entity(kind, start, length, url=url)
        if kind == "custom_emoji":
            return Entity(kind, start, length, custom_emoji_id=tag.argument)
        if kind == "blockquote" and tag.argument == "expandable":
            return Entity("expandable_blockquote", start, length)
        if kind == "pre":
            return self.merge_pre(start, length)
        if kind == "code" and self.stack and self.stack[-1].name == "pre":
            # <pre><code class="language-x">: remember the language for the enclosing <pre>.
            return Entity("code", start, length, language=tag.argument or None)
        return Entity(kind, start, length)

    def merge_pre(self, start: int, length: int) -> Entity:
        """``<pre><code class="language-x">…</code></pre>`` is one ``pre`` with a language."""
        last = self.entities[-1] if self.entities else None
        if last and last.type == "code" and (last.offset, last.length) == (start, length):
            self.entities.pop()
            return Entity("pre", start, length, language=last.language)
        return Entity("pre", start, length)


def _entity_sort_key(entity: Entity) -> tuple[int, int, int]:
    order = _TYPE_ORDER.index(entity.type) if entity.type in _TYPE_ORDER else len(_TYPE_ORDER)
    return (entity.offset, -entity.length, order)


def _normalise_url(url: str) -> str | None:
    """Telegram keeps only link entities with a usable URL; others silently vanish.

    Dropping e.g. ``javascript:`` links also keeps the demo page's HTML safe.
    """
    url = url.strip()
    if not url:
        return None
    scheme = urlsplit(url).scheme.lower()
    if scheme in _LINK_SCHEMES:
        return url
    if not scheme and _BARE_DOMAIN.match(url):
        return f"http://{url}"
    return None


def parse_html(source: str) -> FormattedText:
    """Parse ``parse_mode=HTML`` text into plain text + entities, or raise HtmlParseError.

    The result is not trimmed; see :func:`trim_formatted` for what Telegram does next.
    """
    return _HtmlParser(source).run()


# --------------------------------------------------------------------------------------------
# Post-processing and rendering
# --------------------------------------------------------------------------------------------


def trim_formatted(formatted: FormattedText) -> FormattedText:
    """Strip leading/trailing whitespace like Telegram, clipping entities to what remains."""
    text = formatted.text
    stripped = text.strip(_TRIM_CHARS)
    if stripped == text:
        return formatted
    lead = len(text) - len(text.lstrip(_TRIM_CHARS))  # ASCII only: 1 char == 1 UTF-16 unit
    size = utf16_len(stripped)
    entities: list[Entity] = []
    for entity in formatted.entities:
        start = min(max(entity.offset - lead, 0), size)
        end = min(max(entity.end - lead, 0), size)
        if end > start:
            entities.append(replace(entity, offset=start, length=end - start))
    return FormattedText(stripped, tuple(entities))


def entities_from_api(raw: object) -> tuple[Entity, ...]:
    """Validate a Bot API ``entities`` array (bots may send it instead of parse_mode)."""
    if not isinstance(raw, list):
        raise ValueError("entities must be an array")
    result: list[Entity] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError("entity must be an object")
        kind, offset, length = item.get("type"), item.get("offset"), item.get("length")
        if not isinstance(kind, str) or not isinstance(offset, int) or not isinstance(length, int):
            raise ValueError("entity needs type, offset and length")
        if offset < 0 or length < 0:
            raise ValueError("entity offset and length must be non-negative")
        result.append(
            Entity(
                kind,
                offset,
                length,
                url=item.get("url"),
                language=item.get("language"),
                custom_emoji_id=item.get("custom_emoji_id"),
            )
        )
    return tuple(sorted(result, key=_entity_sort_key))


def _open_tag(entity: Entity) -> tuple[str, str]:
    """Opening and closing markup used to render ``entity`` (empty for plain-text types)."""
    simple = {
        "bold": "b",
        "italic": "i",
        "underline": "u",
        "strikethrough": "s",
        "code": "code",
        "blockquote": "blockquote",
    }
    if entity.type in simple:
        tag = simple[entity.type]
        return f"<{tag}>", f"</{tag}>"
    if entity.type == "spoiler":
        return '<span class="tg-spoiler">', "</span>"
    if entity.type == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    if entity.type == "pre":
        if entity.language:
            lang = html.escape(entity.language)
            return f'<pre><code class="language-{lang}">', "</code></pre>"
        return "<pre>", "</pre>"
    if entity.type == "text_link" and entity.url and _normalise_url(entity.url):
        return f'<a href="{html.escape(entity.url)}">', "</a>"
    if entity.type == "custom_emoji" and entity.custom_emoji_id:
        return f'<tg-emoji emoji-id="{html.escape(entity.custom_emoji_id)}">', "</tg-emoji>"
    return "", ""  # bot_command, url, mention…: rendered as plain text


def _utf16_boundaries(text: str) -> Iterable[tuple[int, str]]:
    """Yield (UTF-16 offset before the char, char) for every character of ``text``."""
    offset = 0
    for char in text:
        yield offset, char
        offset += 2 if ord(char) > 0xFFFF else 1


def entities_to_html(text: str, entities: Sequence[Entity]) -> str:
    """Render text + entities as Telegram-compatible HTML (escaped, canonical tags).

    Rendering from entities rather than echoing the bot's markup means the demo page only ever
    displays what Telegram would display (ignored attributes and dropped links disappear).
    Overlapping entities are closed and re-opened so the output stays well nested.
    """
    ordered = sorted(entities, key=_entity_sort_key)
    stack: list[Entity] = []
    parts: list[str] = []
    next_index = 0
    end_offset = utf16_len(text)

    def close_until(position: int) -> None:
        reopen: list[Entity] = []
        while any(entity.end <= position for entity in stack):
            top = stack.pop()
            parts.append(_open_tag(top)[1])
            if top.end > position:
                reopen.append(top)
        for entity in reversed(reopen):
            parts.append(_open_tag(entity)[0])
            stack.append(entity)

    def open_at(position: int) -> None:
        nonlocal next_index
        while next_index < len(ordered) and ordered[next_index].offset <= position:
            entity = ordered[next_index]
            next_index += 1
            if entity.length > 0 and entity.end <= end_offset:
                parts.append(_open_tag(entity)[0])
                stack.append(entity)

    for offset, char in _utf16_boundaries(text):
        close_until(offset)
        open_at(offset)
        parts.append(html.escape(char, quote=False))
    close_until(end_offset)
    return "".join(parts)
