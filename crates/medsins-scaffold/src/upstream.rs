//! Contributions in the formats MedS-Ins accepts upstream — a task JSON file and the
//! `Task_Contributor.xlsx` workbook — turned into complete manifests.

use crate::{ScaffoldError, toml_str};
use medsins_core::Category;
use serde_json::Value;
use std::fmt::Write;
use std::path::Path;

/// The task card of a contribution, as the upstream formats carry it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contribution {
    pub contributors: Vec<String>,
    pub source: Vec<String>,
    pub url: Vec<String>,
    pub categories: Vec<String>,
    pub domains: Vec<String>,
    pub input_language: Vec<String>,
    pub output_language: Vec<String>,
    pub definition: String,
    pub split_type: String,
}

fn list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s
            .split([',', ';'])
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .map(medsins_readers::value_text)
            .filter(|x| !x.trim().is_empty())
            .collect(),
        _ => vec![],
    }
}

/// ISO 639-1 code of a language name as the task JSON writes it ("English", "Chinese", ...).
fn language_code(name: &str) -> String {
    let n = name.trim().to_lowercase();
    let code = match n.as_str() {
        "english" => "en",
        "chinese" | "mandarin" => "zh",
        "japanese" => "ja",
        "french" => "fr",
        "russian" => "ru",
        "spanish" => "es",
        "swedish" => "sv",
        "german" => "de",
        "catalan" => "ca",
        "korean" => "ko",
        "portuguese" => "pt",
        "italian" => "it",
        "arabic" => "ar",
        other if other.len() == 2 => other,
        _ => "",
    };
    if code.is_empty() {
        format!("TODO: ISO 639-1 code for {name}")
    } else {
        code.to_string()
    }
}

/// The MedS-Ins category closest to a free-text category label.
fn category(labels: &[String]) -> String {
    for l in labels {
        let l = l.trim();
        if let Some(c) = Category::parse(l) {
            return c.to_string();
        }
        let lower = l.to_lowercase();
        let mapped = Category::ALL.iter().find(|c| {
            let cl = c.as_str().to_lowercase();
            lower.contains(&cl) || cl.contains(&lower)
        });
        if let Some(c) = mapped {
            return c.to_string();
        }
        let by_word = match lower.as_str() {
            x if x.contains("entailment") => Some(Category::NaturalLanguageInference),
            x if x.contains("summar") => Some(Category::TextSummarization),
            x if x.contains("classif") => Some(Category::TextClassification),
            x if x.contains("question") => Some(Category::QuestionAnswering),
            x if x.contains("dialog") || x.contains("conversation") => Some(Category::Dialogue),
            x if x.contains("data to text") || x.contains("completion") => {
                Some(Category::TextCompletion)
            }
            _ => None,
        };
        if let Some(c) = by_word {
            return c.to_string();
        }
    }
    format!(
        "TODO: one of the 19 categories (upstream said: {})",
        labels.join(", ")
    )
}

fn split_policy(split_type: &str) -> &'static str {
    match split_type.trim().to_lowercase().as_str() {
        "test" => "{ policy = \"fixed\", split = \"test\" }",
        "train/test" => "{ policy = \"hash\", train = 0.9, validation = 0.0, test = 0.1 }",
        _ => "{ policy = \"fixed\", split = \"train\" }",
    }
}

fn render(id: &str, task_stem: &str, rel_path: &str, format: &str, c: &Contribution) -> String {
    let (number, stem) = match task_stem
        .strip_prefix("task")
        .and_then(|r| r.split_once('_'))
    {
        Some((n, _)) if n.parse::<u32>().is_ok() => (n.to_string(), task_stem.to_string()),
        _ => (
            "999".to_string(),
            format!(
                "task999_{}",
                task_stem.to_lowercase().replace([' ', '-'], "_")
            ),
        ),
    };
    let number_note = if number == "999" {
        "  # TODO: the task number this contribution gets"
    } else {
        ""
    };
    let name = c
        .source
        .first()
        .cloned()
        .unwrap_or_else(|| "TODO: corpus name".into());
    let homepage = c
        .url
        .first()
        .cloned()
        .unwrap_or_else(|| "TODO: homepage".into());
    let langs = |v: &[String]| {
        let codes: Vec<String> = if v.is_empty() {
            vec!["en".into()]
        } else {
            v.iter().map(|l| language_code(l)).collect()
        };
        format!(
            "[{}]",
            codes
                .iter()
                .map(|c| toml_str(c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut s = String::new();
    let _ = writeln!(s, "#:schema ../schemas/manifest.schema.json");
    let _ = writeln!(
        s,
        "# Converted by `medsins new-corpus` from an upstream MedS-Ins contribution ({format})."
    );
    let _ = writeln!(
        s,
        "\n[corpus]\nid = {}\nname = {}\nhomepage = {}\nversion = \"as contributed\"\nlicense = \"TODO: licence of the contributed data\"\naccess = \"public\"\ncitation = {}\nobtain = {}",
        toml_str(id),
        toml_str(&name),
        toml_str(&homepage),
        toml_str(&format!(
            "Contributed by {}",
            if c.contributors.is_empty() {
                "TODO".to_string()
            } else {
                c.contributors.join(", ")
            }
        )),
        toml_str(&format!("Put {rel_path} in <raw-root>/{id}/."))
    );
    let _ = writeln!(
        s,
        "\n[[files]]\nid = \"contribution\"\npath = {}\nformat = {}",
        toml_str(rel_path),
        toml_str(format)
    );
    let _ = writeln!(
        s,
        "\n[[tasks]]\nid = {}\nnumber = {number}{number_note}\nname = {}\ncategory = {}\ntext_source = \"Medical Knowledge\"  # the task card has no text source: check it (Exam | Clinical Text | Academical Papers | Medical Knowledge | Daily Conversation)\ndomains = [{}]\ninput_languages = {}\noutput_languages = {}\ndefinition = {}\nfidelity = \"Instances as contributed (upstream {format}), one sample each.\"\ninput = \"{{{{ input }}}}\"\noutput = \"{{{{ output }}}}\"\nsplit = {}",
        toml_str(&stem),
        toml_str(&format!("{name} ({})", c.categories.join(", "))),
        toml_str(&category(&c.categories)),
        c.domains
            .iter()
            .map(|d| toml_str(d))
            .collect::<Vec<_>>()
            .join(", "),
        langs(&c.input_language),
        langs(&c.output_language),
        toml_str(if c.definition.trim().is_empty() {
            "TODO: the task definition"
        } else {
            c.definition.trim()
        }),
        split_policy(&c.split_type),
    );
    s
}

/// A MedS-Ins / Super-NaturalInstructions task JSON file to a manifest of corpus `id`.
pub fn manifest_from_task_json(
    id: &str,
    path: &Path,
    rel_path: &str,
) -> Result<String, ScaffoldError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScaffoldError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        ScaffoldError::Unsupported(format!("{}: invalid JSON: {e}", path.display()))
    })?;
    let c = Contribution {
        contributors: list(v.get("Contributors")),
        source: list(v.get("Source")),
        url: list(v.get("URL")),
        categories: list(v.get("Categories")),
        domains: list(v.get("Domains")),
        input_language: list(v.get("Input_language")),
        output_language: list(v.get("Output_language")),
        definition: list(v.get("Definition"))
            .into_iter()
            .next()
            .unwrap_or_default(),
        split_type: v
            .get("Split Type")
            .map(medsins_readers::value_text)
            .unwrap_or_default(),
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(render(id, &stem, rel_path, "sni-task", &c))
}

/// A filled `Task_Contributor.xlsx` to a manifest of corpus `id`.
pub fn manifest_from_workbook(
    id: &str,
    path: &Path,
    rel_path: &str,
) -> Result<String, ScaffoldError> {
    let info = medsins_readers::read_workbook_info(path)?;
    let get = |k: &str| {
        info.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| Value::String(v.clone()))
    };
    let c = Contribution {
        contributors: list(get("Contributors").as_ref()),
        source: list(get("Source").as_ref()),
        url: list(get("URL").as_ref()),
        categories: list(get("Categories").as_ref()),
        domains: list(get("Text Domains").as_ref()),
        input_language: list(get("Input_language").as_ref()),
        output_language: list(get("Output_language").as_ref()),
        definition: get("Definition")
            .map(|v| medsins_readers::value_text(&v))
            .unwrap_or_default(),
        split_type: get("Split Type")
            .map(|v| medsins_readers::value_text(&v))
            .unwrap_or_default(),
    };
    let stem = c.source.first().cloned().unwrap_or_else(|| id.to_string());
    Ok(render(id, &stem, rel_path, "workbook", &c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_upstream_vocabulary() {
        assert_eq!(language_code("Chinese"), "zh");
        assert_eq!(
            category(&["Textual Entailment".into()]),
            "Natural Language Inference"
        );
        assert_eq!(
            category(&["Named Entity Recognition".into()]),
            "Named Entity Recognition"
        );
        assert!(category(&["Data Magic".into()]).starts_with("TODO"));
        assert_eq!(
            split_policy("Test"),
            "{ policy = \"fixed\", split = \"test\" }"
        );
    }
}
