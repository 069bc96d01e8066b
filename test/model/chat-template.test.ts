import { beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplateError, defaultChatTemplate, renderChat } from '../../src/model/chat-template';
import { LlamaTokenizer } from '../../src/model/tokenizer';
import { loadStories } from './models';

// ChatML as published in Hugging Face model cards (e.g. Qwen, OpenHermes); the expected strings
// below are written out by hand from the format's definition, not produced by the code under test.
const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
// Llama-2-chat's template (abridged, as in TheBloke's GGUFs): starts with bos_token.
const LLAMA2 = "{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + ' ' + eos_token }}{% endif %}{% endfor %}";
const info = { bosText: '<s>', eosText: '</s>', addBos: true };

describe('chat templates', () => {
  it('renders a GGUF Jinja template (ChatML) with the generation prompt', () => {
    const text = renderChat([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], { ...info, template: CHATML });
    expect(text).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  });

  it('drops a leading BOS the template writes when the tokenizer adds one, keeps later ones', () => {
    const msgs = [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }];
    expect(renderChat(msgs, { ...info, template: LLAMA2 })).toBe('[INST] a [/INST] b </s><s>[INST] c [/INST]');
    expect(renderChat(msgs, { ...info, addBos: false, template: LLAMA2 })).toBe('<s>[INST] a [/INST] b </s><s>[INST] c [/INST]');
  });

  it('falls back to the [INST] default without a template', () => {
    const msgs = [{ role: 'system', content: 'S' }, { role: 'user', content: 'Q' }];
    expect(renderChat(msgs, info)).toBe('[INST] <<SYS>>\nS\n<</SYS>>\n\nQ [/INST]');
    expect(defaultChatTemplate(msgs)).toBe(renderChat(msgs, info));
  });

  it('gives a clear error for bad messages and for a template that raises', () => {
    expect(() => renderChat([], info)).toThrow(ChatTemplateError);
    expect(() => renderChat([{ role: 'user' } as never], info)).toThrow(/string content/);
    const raising = "{{ raise_exception('Conversation roles must alternate') }}";
    expect(() => renderChat([{ role: 'user', content: 'x' }], { ...info, template: raising })).toThrow(/roles must alternate/);
  });
});

describe('tokenizer parseSpecial (llama.cpp parse_special semantics)', () => {
  let tok: LlamaTokenizer;
  beforeAll(async () => {
    tok = new LlamaTokenizer((await loadStories()).index.tokenizer);
  });

  it('maps control-token text to ids only when asked', () => {
    const plain = Array.from(tok.encode('Hi</s>there'));
    expect(plain).not.toContain(tok.eos);
    const special = Array.from(tok.encode('Hi</s>there', { parseSpecial: true }));
    // Fragments: "Hi" (space-prefixed: first), </s>, "there" (space-prefixed: follows a special token).
    const expected = [tok.bos, ...tok.encode('Hi', { addBos: false }), tok.eos, ...tok.encode('there', { addBos: false })];
    expect(special).toEqual(expected);
  });

  it('a leading special token is not followed by a doubled BOS and plain text is unchanged', () => {
    expect(Array.from(tok.encode('<s>Once', { parseSpecial: true, addBos: false }))).toEqual([tok.bos, ...tok.encode('Once', { addBos: false })]);
    expect(Array.from(tok.encode('Once upon a time', { parseSpecial: true }))).toEqual(Array.from(tok.encode('Once upon a time')));
  });
});
