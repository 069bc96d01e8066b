// Chat prompts: the GGUF's own `tokenizer.chat_template` (a Jinja template, as Hugging Face and
// llama.cpp use it) rendered with @huggingface/jinja, or a Llama-2 [INST] default for models that
// carry none (stories260K carries none). The rendered text is tokenized with parseSpecial so the
// template's control tokens become their ids, as llama.cpp's server does.
import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  role: string; // 'system' | 'user' | 'assistant' (templates may accept others)
  content: string;
}

export class ChatTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChatTemplateError';
  }
}

/** Llama-2 style: [INST] <<SYS>>system<</SYS>> user [/INST] assistant ... (no BOS: the tokenizer adds it). */
export function defaultChatTemplate(messages: ChatMessage[]): string {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
  let out = '';
  let first = true;
  for (const m of messages) {
    if (m.role === 'system') continue;
    if (m.role === 'user') {
      const sys = first && system ? `<<SYS>>\n${system}\n<</SYS>>\n\n` : '';
      out += `[INST] ${sys}${m.content.trim()} [/INST]`;
      first = false;
    } else out += ` ${m.content.trim()} `;
  }
  return out;
}

export interface ChatTemplateInfo {
  template?: string; // tokenizer.chat_template from the GGUF, if any
  bosText: string; // the BOS token's text, e.g. "<s>"
  eosText: string;
  addBos: boolean; // the tokenizer adds BOS itself
}

const compiled = new Map<string, Template>();

/**
 * The prompt text for `messages`, ending where the assistant's reply starts
 * (add_generation_prompt). Decision: when the tokenizer adds BOS itself, a BOS the template writes
 * at the very start is dropped, so the prompt never starts with two BOS tokens (llama.cpp keeps
 * both and warns; the model was trained with one).
 */
export function renderChat(messages: ChatMessage[], info: ChatTemplateInfo): string {
  if (!Array.isArray(messages) || messages.length === 0) throw new ChatTemplateError('messages must be a non-empty array');
  for (const m of messages) {
    if (typeof m?.role !== 'string' || typeof m?.content !== 'string') throw new ChatTemplateError('each message needs a string role and a string content');
  }
  if (!info.template) return defaultChatTemplate(messages);
  let tmpl = compiled.get(info.template);
  try {
    if (!tmpl) {
      tmpl = new Template(info.template);
      compiled.set(info.template, tmpl);
    }
    let text = tmpl.render({ messages, bos_token: info.bosText, eos_token: info.eosText, add_generation_prompt: true });
    if (info.addBos && info.bosText && text.startsWith(info.bosText)) text = text.slice(info.bosText.length);
    return text;
  } catch (e) {
    // A template can raise on purpose (e.g. "roles must alternate"): that is the caller's 400.
    throw new ChatTemplateError(`chat template: ${(e as Error).message}`);
  }
}
