"""Telegram's HTML subset: what parses, what Telegram rejects, offsets in UTF-16 units."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tso_bot.sandbox.telegram_html import (
    Entity,
    FormattedText,
    HtmlParseError,
    entities_from_api,
    entities_to_html,
    parse_html,
    trim_formatted,
    utf16_len,
)


def spans(source: str) -> list[tuple[str, int, int]]:
    return [(e.type, e.offset, e.length) for e in parse_html(source).entities]


@pytest.mark.parametrize(
    ("tag", "kind"),
    [
        ("b", "bold"),
        ("strong", "bold"),
        ("i", "italic"),
        ("em", "italic"),
        ("u", "underline"),
        ("ins", "underline"),
        ("s", "strikethrough"),
        ("strike", "strikethrough"),
        ("del", "strikethrough"),
        ("code", "code"),
        ("pre", "pre"),
        ("tg-spoiler", "spoiler"),
        ("blockquote", "blockquote"),
    ],
)
def test_simple_tags(tag: str, kind: str) -> None:
    assert parse_html(f"a <{tag}>bc</{tag}> d") == FormattedText("a bc d", (Entity(kind, 2, 2),))


def test_tags_are_case_insensitive_and_nest() -> None:
    assert spans("<B>x<I>y</i></b>") == [("bold", 0, 2), ("italic", 1, 1)]


def test_link() -> None:
    parsed = parse_html('<a href="https://example.com/?a=1&amp;b=2">site</a>')
    assert parsed.text == "site"
    assert parsed.entities[0].url == "https://example.com/?a=1&b=2"


def test_unsafe_or_empty_link_is_dropped_like_telegram() -> None:
    assert parse_html('<a href="javascript:alert(1)">x</a>').entities == ()
    assert parse_html("<a>x</a>").entities == ()


def test_pre_with_language() -> None:
    parsed = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert parsed.entities == (Entity("pre", 0, 5, language="python"),)
    assert parse_html('<code class="language-python">x</code>').entities == (Entity("code", 0, 1),)


def test_spoiler_span_blockquote_and_custom_emoji() -> None:
    assert spans('<span class="tg-spoiler">s</span>') == [("spoiler", 0, 1)]
    assert spans("<blockquote expandable>q</blockquote>") == [("expandable_blockquote", 0, 1)]
    emoji = parse_html('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>')
    assert emoji.entities == (Entity("custom_emoji", 0, 2, custom_emoji_id="5368324170671202286"),)


def test_entities_are_decoded() -> None:
    assert parse_html("&lt;&gt;&amp;&quot;&#65;&#x42;&#x1F600;").text == '<>&"AB😀'


def test_offsets_are_utf16_units() -> None:
    assert spans("😀 <b>é</b>") == [("bold", 3, 1)]
    assert utf16_len("😀é") == 3


def test_bare_greater_than_is_accepted() -> None:
    assert parse_html("a > b").text == "a > b"


def test_empty_entities_are_dropped() -> None:
    assert parse_html("<b></b>x").entities == ()


def test_unknown_attributes_are_ignored() -> None:
    assert spans('<b class="x" onclick="evil()">y</b>') == [("bold", 0, 1)]


@pytest.mark.parametrize(
    ("source", "reason", "offset"),
    [
        ("a<br>b", 'Unsupported start tag "br"', 1),
        ("é<p>", 'Unsupported start tag "p"', 2),  # byte offset: é is 2 bytes in UTF-8
        ("1 < 2", 'Unsupported start tag ""', 2),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"', None),
        ("<b>x</i>", 'Unmatched end tag, expected "</b>", found "</i>"', 4),
        ("x</b>", "Unexpected end tag", 1),
        ("<b", "Unclosed start tag", 0),
        ("<b>x</b", "Unclosed end tag", 4),
        ("a & b", "Unsupported HTML entity", 2),
        ("&nbsp;", "Unsupported HTML entity", 0),
        ("&#0;", "Unsupported HTML entity", 0),
        ("&amp", "Unsupported HTML entity", 0),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"', 0),
        ("<tg-emoji>x</tg-emoji>", "Custom emoji entity must contain", 0),
        ('<a href="x>y</a>', "Unclosed start tag", 0),
        ("<b x>y</b>", 'Expected equal sign in declaration of an attribute of the tag "b"', 0),
    ],
)
def test_errors(source: str, reason: str, offset: int | None) -> None:
    with pytest.raises(HtmlParseError) as caught:
        parse_html(source)
    assert caught.value.reason.startswith(reason)
    assert caught.value.byte_offset == offset


def test_trim_clips_entities() -> None:
    trimmed = trim_formatted(parse_html("\n  <b> hi </b>\n"))
    assert trimmed == FormattedText("hi", (Entity("bold", 0, 2),))
    assert trim_formatted(parse_html("<b> </b>")).entities == ()


def test_entities_from_api() -> None:
    raw = [{"type": "italic", "offset": 2, "length": 1}, {"type": "bold", "offset": 0, "length": 3}]
    assert [e.type for e in entities_from_api(raw)] == ["bold", "italic"]
    with pytest.raises(ValueError, match="type, offset and length"):
        entities_from_api([{"type": "bold"}])


def test_render_escapes_and_uses_canonical_tags() -> None:
    parsed = parse_html('<strong>a&lt;b</strong> <span class="tg-spoiler">s</span>')
    assert entities_to_html(parsed.text, parsed.entities) == (
        '<b>a&lt;b</b> <span class="tg-spoiler">s</span>'
    )


def test_render_overlapping_entities_stays_well_nested() -> None:
    rendered = entities_to_html("abcd", [Entity("bold", 0, 3), Entity("italic", 1, 3)])
    assert rendered == "<b>a<i>bc</i></b><i>d</i>"
    assert spans(rendered) == [("bold", 0, 3), ("italic", 1, 2), ("italic", 3, 1)]


def test_render_plain_types_as_text() -> None:
    assert entities_to_html("/start x", [Entity("bot_command", 0, 6)]) == "/start x"


# -- properties ---------------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
_TAGS = ["b", "i", "u", "s", "code", "tg-spoiler", "blockquote"]


@st.composite
def telegram_html(draw: st.DrawFn, depth: int = 0) -> str:
    """Random valid Telegram HTML: escaped text interleaved with nested tags."""
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        if depth < 3 and draw(st.booleans()):
            tag = draw(st.sampled_from(_TAGS))
            parts.append(f"<{tag}>{draw(telegram_html(depth + 1))}</{tag}>")
        else:
            parts.append(html.escape(draw(_TEXT)))
    return "".join(parts)


@given(_TEXT)
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    assert parse_html(html.escape(text)) == FormattedText(text)


@given(telegram_html())
def test_render_roundtrip(source: str) -> None:
    parsed = parse_html(source)
    assert parse_html(entities_to_html(parsed.text, parsed.entities)) == parsed


@given(telegram_html())
def test_entities_stay_inside_text(source: str) -> None:
    parsed = trim_formatted(parse_html(source))
    size = utf16_len(parsed.text)
    assert all(e.offset >= 0 and e.length > 0 and e.end <= size for e in parsed.entities)
