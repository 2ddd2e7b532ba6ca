//! Token counts (`medsins build --tokenizer tokenizer.json [--max-tokens N]
//! [--chat-template tokenizer_config.json]`, and the same options of `medsins export`).
//!
//! Counts run after every other stage, as the samples are written: `input_tokens` and
//! `output_tokens` are the lengths of `encode_fast(text, add_special_tokens = false)` of the
//! input and the output. `--max-tokens` bounds what training will see: the instruction, input
//! and output tokens together or, with a chat template, the tokens of the whole conversation
//! the template renders (system/user/assistant messages as [`messages`] lays them out). A
//! sample over the bound is removed (ledger stage `tokens`, reason `too_long`).

use medsins_core::Sample;
use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// Why a tokenizer or chat template cannot be used (the message names the option and the
/// file), or a sample cannot be counted. The cause is part of the message (`cause`), not a
/// separate source, so the CLI's error chain does not print it twice.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("--chat-template {}: {cause}", .path.display())]
    ChatTemplateUnreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("--chat-template {}: {cause}", .path.display())]
    ChatTemplateNotUtf8 {
        path: PathBuf,
        cause: std::string::FromUtf8Error,
    },
    #[error(
        "--chat-template {}: not JSON ({cause}); give a tokenizer_config.json with a `chat_template`, or a chat_template.jinja file",
        .path.display()
    )]
    ChatTemplateNotJson {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error(
        "--chat-template {}: `chat_template` lists named templates but none is named `default`",
        .path.display()
    )]
    NoDefaultTemplate { path: PathBuf },
    #[error(
        "--chat-template {}: has no `chat_template` string; give the model's tokenizer_config.json (or chat_template.jinja)",
        .path.display()
    )]
    NoChatTemplate { path: PathBuf },
    /// The template's syntax settings are refused, or it does not parse (`what` says which).
    #[error("--chat-template {}: {what}{cause}", .path.display())]
    ChatTemplateInvalid {
        path: PathBuf,
        what: &'static str,
        cause: Error,
    },
    /// The template fails on a sample's conversation; `hint` says what to change, if known.
    #[error("the chat template {name} fails on a {roles}-message conversation: {cause}{hint}")]
    ChatTemplateFails {
        name: String,
        roles: &'static str,
        hint: &'static str,
        cause: Error,
    },
    #[error("--tokenizer {}: {cause}", .path.display())]
    TokenizerUnreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("--tokenizer {}: not a Hugging Face tokenizer.json: {cause}", .path.display())]
    NotATokenizer {
        path: PathBuf,
        cause: tokenizers::Error,
    },
    #[error("the tokenizer cannot encode a text: {0}")]
    Encode(tokenizers::Error),
}

/// Where a conversation puts the task's instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum InstructionIn {
    /// A system message before the user's input.
    #[default]
    System,
    /// Prepended to the user message, separated by a blank line (for models without a system
    /// role).
    User,
}

impl InstructionIn {
    pub fn parse(s: &str) -> Option<InstructionIn> {
        match s {
            "system" => Some(InstructionIn::System),
            "user" => Some(InstructionIn::User),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InstructionIn::System => "system",
            InstructionIn::User => "user",
        }
    }
}

/// The conversation of a sample, as `(role, content)`: `system` (the instruction), `user`
/// (the input), `assistant` (the output); with [`InstructionIn::User`] the user message is
/// the instruction, a blank line and the input.
pub fn messages(
    instruction: &str,
    input: &str,
    output: &str,
    place: InstructionIn,
) -> Vec<(&'static str, String)> {
    match place {
        InstructionIn::System => vec![
            ("system", instruction.to_string()),
            ("user", input.to_string()),
            ("assistant", output.to_string()),
        ],
        InstructionIn::User => vec![
            ("user", format!("{instruction}\n\n{input}")),
            ("assistant", output.to_string()),
        ],
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A Hugging Face chat template (the Jinja `chat_template` of a `tokenizer_config.json`, or
/// a `chat_template.jinja` file), rendered with minijinja as `transformers` renders it:
/// `trim_blocks`, `lstrip_blocks`, Python string methods, `raise_exception`, the config's
/// special tokens (`bos_token`, `eos_token`, …) and `add_generation_prompt = false`.
/// `strftime_now` returns the date 2025-01-01, so counts do not change from day to day.
pub struct ChatTemplate {
    env: Environment<'static>,
    tokens: Vec<(String, String)>,
    pub place: InstructionIn,
    pub name: String,
    pub sha256: String,
}

impl ChatTemplate {
    pub fn load(path: &Path, place: InstructionIn) -> Result<ChatTemplate, TokensError> {
        let path_buf = || path.to_path_buf();
        let bytes = std::fs::read(path).map_err(|cause| TokensError::ChatTemplateUnreadable {
            path: path_buf(),
            cause,
        })?;
        let text =
            String::from_utf8(bytes.clone()).map_err(|cause| TokensError::ChatTemplateNotUtf8 {
                path: path_buf(),
                cause,
            })?;
        let (source, tokens) = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(config) => (Self::template_of(&config, path)?, special_tokens(&config)),
            Err(_) if path.extension().is_some_and(|e| e == "jinja") => (text, Vec::new()),
            Err(cause) => {
                return Err(TokensError::ChatTemplateNotJson {
                    path: path_buf(),
                    cause,
                });
            }
        };
        let invalid = |what| {
            move |cause| TokensError::ChatTemplateInvalid {
                path: path_buf(),
                what,
                cause,
            }
        };
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(invalid(""))?,
        );
        env.set_fuel(Some(10_000_000));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<Value, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", |format: String| -> String {
            fixed_date(&format)
        });
        env.add_filter("tojson", |v: Value| -> Result<String, Error> {
            serde_json::to_string(&v)
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
        });
        env.add_template_owned("chat", source)
            .map_err(invalid("the chat template does not parse: "))?;
        Ok(ChatTemplate {
            env,
            tokens,
            place,
            name: file_name(path),
            sha256: medsins_core::sha256_hex(&bytes),
        })
    }

    fn template_of(config: &serde_json::Value, path: &Path) -> Result<String, TokensError> {
        match config.get("chat_template") {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            // a list of named templates: the one named `default`
            Some(serde_json::Value::Array(named)) => named
                .iter()
                .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
                .and_then(|t| t.get("template")?.as_str())
                .map(str::to_string)
                .ok_or_else(|| TokensError::NoDefaultTemplate {
                    path: path.to_path_buf(),
                }),
            _ => Err(TokensError::NoChatTemplate {
                path: path.to_path_buf(),
            }),
        }
    }

    /// The conversation of a sample as the template renders it.
    pub fn render(
        &self,
        instruction: &str,
        input: &str,
        output: &str,
    ) -> Result<String, TokensError> {
        let msgs: Vec<serde_json::Value> = messages(instruction, input, output, self.place)
            .into_iter()
            .map(|(role, content)| serde_json::json!({"role": role, "content": content}))
            .collect();
        let mut ctx: serde_json::Map<String, serde_json::Value> = self
            .tokens
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        ctx.insert("messages".into(), serde_json::Value::from(msgs));
        ctx.insert(
            "add_generation_prompt".into(),
            serde_json::Value::from(false),
        );
        let fails = |cause| TokensError::ChatTemplateFails {
            name: self.name.clone(),
            roles: match self.place {
                InstructionIn::System => "system/user/assistant",
                InstructionIn::User => "user/assistant",
            },
            hint: match self.place {
                InstructionIn::System => {
                    " (if the model has no system role, put the instruction in the user message: --instruction-in user)"
                }
                InstructionIn::User => "",
            },
            cause,
        };
        let tmpl = self.env.get_template("chat").map_err(fails)?;
        tmpl.render(minijinja::value::Serde(&ctx)).map_err(fails)
    }
}

/// `bos_token`, `eos_token`, … of a tokenizer config: strings, or added-token objects with a
/// `content`.
fn special_tokens(config: &serde_json::Value) -> Vec<(String, String)> {
    config
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.ends_with("_token"))
        .filter_map(|(k, v)| {
            let s = v
                .as_str()
                .or_else(|| v.get("content").and_then(|c| c.as_str()))?;
            Some((k.clone(), s.to_string()))
        })
        .collect()
}

/// `strftime` of 2025-01-01 for the formats chat templates use.
fn fixed_date(format: &str) -> String {
    format
        .replace("%d", "01")
        .replace("%m", "01")
        .replace("%Y", "2025")
        .replace("%y", "25")
        .replace("%b", "Jan")
        .replace("%B", "January")
        .replace("%A", "Wednesday")
        .replace("%a", "Wed")
}

/// The token counts of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleTokens {
    pub input: u32,
    pub output: u32,
    /// What `--max-tokens` bounds: instruction + input + output, or the rendered conversation.
    pub total: u32,
}

/// A loaded Hugging Face `tokenizer.json` (with its file name and SHA-256 for the lock), and
/// the chat template when one is given.
pub struct Counter {
    tok: Tokenizer,
    template: Option<ChatTemplate>,
    pub name: String,
    pub sha256: String,
}

impl Counter {
    pub fn load(path: &Path) -> Result<Counter, TokensError> {
        let bytes = std::fs::read(path).map_err(|cause| TokensError::TokenizerUnreadable {
            path: path.to_path_buf(),
            cause,
        })?;
        let tok = Tokenizer::from_bytes(&bytes).map_err(|cause| TokensError::NotATokenizer {
            path: path.to_path_buf(),
            cause,
        })?;
        Ok(Counter {
            tok,
            template: None,
            name: file_name(path),
            sha256: medsins_core::sha256_hex(&bytes),
        })
    }

    /// Counts [`SampleTokens::total`] on the conversation this template renders.
    pub fn with_template(mut self, template: ChatTemplate) -> Counter {
        self.template = Some(template);
        self
    }

    pub fn template(&self) -> Option<&ChatTemplate> {
        self.template.as_ref()
    }

    /// What [`SampleTokens::total`] counts, for messages.
    pub fn total_is(&self) -> String {
        match &self.template {
            Some(t) => format!("tokens of the conversation rendered by {}", t.name),
            None => "instruction + input + output tokens".into(),
        }
    }

    pub fn count(&self, text: &str) -> Result<u32, TokensError> {
        self.tok
            .encode_fast(text, false)
            .map(|e| e.len() as u32)
            .map_err(TokensError::Encode)
    }

    pub fn count_sample(
        &self,
        instruction: &str,
        input: &str,
        output: &str,
    ) -> Result<SampleTokens, TokensError> {
        let (i, o) = (self.count(input)?, self.count(output)?);
        let total = match &self.template {
            Some(t) => self.count(&t.render(instruction, input, output)?)?,
            None => self.count(instruction)? + i + o,
        };
        Ok(SampleTokens {
            input: i,
            output: o,
            total,
        })
    }

    /// The counts of every sample of a batch (in parallel, order kept).
    pub fn count_batch(&self, batch: &[Sample]) -> Result<Vec<SampleTokens>, TokensError> {
        batch
            .par_iter()
            .map(|s| self.count_sample(&s.instruction, &s.input, &s.output))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'].strip() + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    fn write_config(dir: &Path, template: &str) -> std::path::PathBuf {
        let p = dir.join("tokenizer_config.json");
        let c = serde_json::json!({"bos_token": {"content": "<s>"}, "eos_token": "</s>", "chat_template": template});
        std::fs::write(&p, c.to_string()).unwrap();
        p
    }

    #[test]
    fn chat_templates_render_like_transformers() {
        let tmp = tempfile::tempdir().unwrap();
        let t =
            ChatTemplate::load(&write_config(tmp.path(), CHATML), InstructionIn::System).unwrap();
        assert_eq!(
            t.render("Summarise.", " Long text ", "Short.").unwrap(),
            "<|im_start|>system\nSummarise.<|im_end|>\n<|im_start|>user\nLong text<|im_end|>\n<|im_start|>assistant\nShort.<|im_end|>\n"
        );
        // a template that refuses a system role says what to do
        let strict = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}{% endfor %}";
        let t =
            ChatTemplate::load(&write_config(tmp.path(), strict), InstructionIn::System).unwrap();
        let e = t.render("I", "x", "y").unwrap_err().to_string();
        assert!(
            e.contains("System role not supported") && e.contains("--instruction-in user"),
            "{e}"
        );
        let t = ChatTemplate::load(&write_config(tmp.path(), strict), InstructionIn::User).unwrap();
        assert_eq!(
            t.render("I", "x", "y").unwrap(),
            "<s>[user] I\n\nx</s>[assistant] y</s>"
        );
    }

    #[test]
    fn a_config_without_a_template_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("tokenizer_config.json");
        std::fs::write(&p, r#"{"eos_token": "</s>"}"#).unwrap();
        let e = ChatTemplate::load(&p, InstructionIn::System).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "--chat-template {}: has no `chat_template` string; give the model's tokenizer_config.json (or chat_template.jinja)",
                p.display()
            )
        );
    }
}
