import { describe, expect, it } from 'vitest';
import {
  jsonDecode,
  jsonEncode,
  linkify,
  squeeze,
  toUnicode,
  urlEscape,
  urlUnescape,
  utf8,
  xhtmlEscape,
  xhtmlUnescape,
} from '../src/index';

describe('escape helpers', () => {
  it('xhtmlEscape escapes the five characters', () => {
    expect(xhtmlEscape(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
    expect(xhtmlEscape('plain')).toBe('plain');
    expect(xhtmlEscape(42)).toBe('42');
  });

  it('xhtmlUnescape reverses named and numeric entities', () => {
    expect(xhtmlUnescape('&lt;b&gt; &amp;amp; &#39;&#x41;&#65; &nbsp;&unknown; &#xZZ;')).toBe(
      "<b> &amp; 'AA \u00a0&unknown; &#xZZ;",
    );
    expect(xhtmlUnescape('&#99999999;')).toBe('&#99999999;');
    expect(xhtmlUnescape(xhtmlEscape(`<>"'&`))).toBe(`<>"'&`);
  });

  it('urlEscape follows quote_plus / quote', () => {
    expect(urlEscape("a b/c?d=e&f!'()*~é")).toBe('a+b%2Fc%3Fd%3De%26f%21%27%28%29%2A~%C3%A9');
    expect(urlEscape("a b/c!'", false)).toBe('a%20b/c%21%27');
    expect(urlEscape(12)).toBe('12');
  });

  it('urlUnescape decodes, with + as space unless plus is false', () => {
    expect(urlUnescape('a+b%2Fc%C3%A9')).toBe('a b/cé');
    expect(urlUnescape('a+b', false)).toBe('a+b');
    expect(urlUnescape('100%zz%41')).toBe('100%zzA');
    expect(() => urlUnescape('%FF')).toThrow(URIError);
    expect(urlUnescape('plain')).toBe('plain');
  });

  it('jsonEncode is safe inside script elements', () => {
    expect(jsonEncode({ a: '</script>' })).toBe('{"a":"<\\/script>"}');
    expect(jsonEncode(undefined)).toBe('null');
    expect(jsonDecode(jsonEncode({ a: '</x>' }))).toEqual({ a: '</x>' });
    expect(jsonDecode(Buffer.from('[1,2]'))).toEqual([1, 2]);
  });

  it('squeeze, utf8, toUnicode', () => {
    expect(squeeze('  a \n\t b  c ')).toBe('a b c');
    expect(utf8('é')).toEqual(Buffer.from([0xc3, 0xa9]));
    expect(utf8(null)).toBeNull();
    expect(utf8(new Uint8Array([1, 2]))).toEqual(Buffer.from([1, 2]));
    const b = Buffer.from('x');
    expect(utf8(b)).toBe(b);
    expect(toUnicode(Buffer.from('é'))).toBe('é');
    expect(toUnicode('s')).toBe('s');
    expect(toUnicode(null)).toBeNull();
    expect(() => toUnicode(Buffer.from([0xff]))).toThrow();
  });

  it('linkify links http(s) urls and escapes the rest', () => {
    expect(linkify('see http://example.com/a?b=1&c=2 <now>')).toBe(
      'see <a href="http://example.com/a?b=1&amp;c=2">http://example.com/a?b=1&amp;c=2</a> &lt;now&gt;',
    );
    expect(linkify('www.example.com')).toBe('<a href="http://www.example.com">www.example.com</a>');
    expect(linkify('javascript://x', {})).toBe('javascript://x');
    expect(linkify('www.example.com', { requireProtocol: true })).toBe('www.example.com');
    expect(
      linkify('http://example.com/a/very/long/path/that/goes/on', {
        shorten: true,
        extraParams: 'rel="nofollow"',
      }),
    ).toBe(
      '<a href="http://example.com/a/very/long/path/that/goes/on" rel="nofollow">http://example.com/a/very/l...</a>',
    );
  });
});
