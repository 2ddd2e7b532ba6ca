//! The starting manifest for a raw file: everything inspection could infer, `TODO` elsewhere.

use crate::{Inspection, toml_str};
use std::fmt::Write;

/// A manifest for corpus `id` reading `rel_path` (relative to the corpus folder). Every value
/// inspection could not infer holds a `TODO` marker, which `medsins validate` lists.
pub fn starting_manifest(id: &str, rel_path: &str, ins: &Inspection) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "#:schema ../schemas/manifest.schema.json");
    let _ = writeln!(
        s,
        "# Written by `medsins new-corpus`: {} records, format `{}`.",
        ins.records, ins.format
    );
    let _ = writeln!(s, "# Fields seen (with an example value):");
    for (f, ex) in &ins.fields {
        let _ = writeln!(s, "#   {f}: {ex}");
    }
    let _ = writeln!(
        s,
        "\n[corpus]\nid = {}\nname = \"TODO: the corpus's name\"\nhomepage = \"TODO: where the corpus is published\"\nversion = \"TODO: release, date or commit of these files\"\nlicense = \"TODO: licence (SPDX id where one exists)\"\naccess = \"public\"  # TODO: public | registration | credentialed\ncitation = \"TODO: BibTeX or a plain reference\"\nobtain = \"TODO: how to get {} and where to put it (<raw-root>/{id}/)\"",
        toml_str(id),
        rel_path
    );
    let _ = writeln!(
        s,
        "\n[[files]]\nid = \"main\"\npath = {}\nformat = {}",
        toml_str(rel_path),
        toml_str(&ins.format)
    );
    let mut opts = Vec::new();
    if let Some(r) = &ins.options.records {
        opts.push(format!("records = {}", toml_str(r)));
    }
    if let Some(sh) = &ins.options.sheet {
        opts.push(format!("sheet = {}", toml_str(sh)));
    }
    if !opts.is_empty() {
        let _ = writeln!(s, "options = {{ {} }}", opts.join(", "));
    }
    // input: the field with the longest example text; output: the first other field that is not
    // an index (empty name or a bare number)
    let is_index =
        |(f, ex): &(String, String)| f.is_empty() || ex.chars().all(|c| c.is_ascii_digit());
    let input_field = ins
        .fields
        .iter()
        .filter(|x| !is_index(x))
        .max_by_key(|(_, ex)| ex.chars().count())
        .map(|(f, _)| f.as_str());
    let output_field = ins
        .fields
        .iter()
        .filter(|x| !is_index(x))
        .map(|(f, _)| f.as_str())
        .find(|f| Some(*f) != input_field);
    let var = |f: &str| {
        if !f.is_empty()
            && f.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !f.starts_with(|c: char| c.is_ascii_digit())
        {
            format!("{{{{ {f} }}}}")
        } else {
            format!(
                "{{{{ record[{}] }}}}",
                serde_json::to_string(f).unwrap_or_default()
            )
        }
    };
    let (input, output) = match ins.format.as_str() {
        "sni-task" | "workbook" => ("{{ input }}".to_string(), "{{ output }}".to_string()),
        "iob" => (
            "{{ text }}".to_string(),
            "{{ entities | join(\", \") }}".to_string(),
        ),
        _ => (
            input_field.map(var).unwrap_or_else(|| "TODO".into()),
            output_field
                .or(input_field)
                .map(var)
                .unwrap_or_else(|| "TODO".into()),
        ),
    };
    let steps = if ins.format == "iob" {
        "steps = [{ op = \"iob_entities\", into = \"entities\", text_into = \"text\" }]\n"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "\n[[tasks]]\nid = \"task999_TODO_upstream_file_stem\"\nnumber = 999  # TODO: the upstream task number\nname = \"TODO: what the task asks\"\ncategory = \"TODO: one of the 19 MedS-Ins categories\"\ntext_source = \"TODO: Exam | Clinical Text | Academical Papers | Medical Knowledge | Daily Conversation\"\ndomains = []\ninput_languages = [\"en\"]\noutput_languages = [\"en\"]\ndefinition = \"TODO: the instruction given with every sample\"\n{steps}input = {}  # TODO: check the input template\noutput = {}  # TODO: check the output template\nsplit = {{ policy = \"fixed\", split = \"train\" }}",
        toml_str(&input),
        toml_str(&output)
    );
    s
}
