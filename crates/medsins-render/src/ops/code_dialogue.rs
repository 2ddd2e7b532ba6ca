//! `code_dialogue`: a list of answered question codes (`E_55_@_V_89`) decoded into dialogue
//! text through a table of questions (DDXPlus evidences), in one pass over borrowed table
//! records. `lookup_records` followed by a template loop gives the same text, but copies each
//! looked-up record (with its whole table of answer meanings) into every patient record and
//! walks it in minijinja: the costliest rendering of the catalogue.

use super::lookup_records::{code_list, split_code};
use super::{OpContext, OpError, OpResult, not_this_op};
use medsins_manifest::Step;
use medsins_readers::{Record, value_text};
use serde_json::{Map, Value};

/// How a code is decoded: the step's fields.
struct Decoder<'a> {
    table: &'a [Record],
    value_separator: Option<&'a str>,
    question: &'a str,
    meanings: &'a str,
    meaning: &'a str,
    bare_answer: &'a str,
    speakers: &'a [String; 2],
}

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, cx: &OpContext) -> OpResult {
    let Step::CodeDialogue {
        file,
        codes,
        value_separator,
        question,
        meanings,
        meaning,
        bare_answer,
        speakers,
        into,
        ..
    } = step
    else {
        return Err(not_this_op(step));
    };
    let table = super::lookup_table(cx, file)?;
    let decoder = Decoder {
        table,
        value_separator: value_separator.as_deref(),
        question,
        meanings,
        meaning,
        bare_answer,
        speakers,
    };
    let (text, missing) = decoder.dialogue(code_list(f, codes)?, cx)?;
    f.insert(into.clone(), Value::String(text));
    f.insert(format!("{into}_missing"), Value::Array(missing));
    Ok(true)
}

impl Decoder<'_> {
    /// The dialogue text of the codes, and the codes without a match.
    fn dialogue(
        &self,
        codes: Vec<String>,
        cx: &OpContext,
    ) -> Result<(String, Vec<Value>), OpError> {
        let mut text = String::new();
        let mut missing = Vec::new();
        // the question of the previous matched code: its next answers join its turn
        let mut previous: Option<String> = None;
        for full in codes {
            let (code, value) = split_code(&full, self.value_separator);
            let Some(record) = cx.index.get(code).and_then(|i| self.table.get(*i)) else {
                missing.push(Value::String(full));
                continue;
            };
            let answer = self.answer(code, value, &record.fields)?;
            if previous.as_deref() == Some(code) {
                text.push_str(", ");
            } else {
                let q =
                    record
                        .fields
                        .get(self.question)
                        .ok_or_else(|| OpError::CodeWithoutField {
                            code: code.to_string(),
                            field: self.question.to_string(),
                        })?;
                let [asker, answerer] = self.speakers;
                text.push('\n');
                text.push_str(asker);
                text.push_str(": ");
                text.push_str(&value_text(q));
                text.push('\n');
                text.push_str(answerer);
                text.push_str(": ");
                previous = Some(code.to_string());
            }
            text.push_str(&answer);
        }
        Ok((text, missing))
    }

    /// The answer a code gives: `bare_answer` without a value, the value's meaning when the
    /// question's meanings have one, else the value itself.
    fn answer(
        &self,
        code: &str,
        value: Option<&str>,
        fields: &Map<String, Value>,
    ) -> Result<String, OpError> {
        let Some(value) = value else {
            return Ok(self.bare_answer.to_string());
        };
        let meanings = match fields.get(self.meanings) {
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(OpError::CodeMeaningsNotObject {
                    code: code.to_string(),
                    field: self.meanings.to_string(),
                });
            }
            None => {
                return Err(OpError::CodeWithoutField {
                    code: code.to_string(),
                    field: self.meanings.to_string(),
                });
            }
        };
        match meanings.get(value) {
            None => Ok(value.to_string()),
            Some(m) => m.get(self.meaning).map(value_text).ok_or_else(|| {
                OpError::CodeMeaningWithoutMember {
                    code: code.to_string(),
                    value: value.to_string(),
                    member: self.meaning.to_string(),
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LookupFiles, Prepared};
    use minijinja::Environment;
    use serde_json::json;
    use std::collections::HashMap;

    fn step() -> Step {
        Step::CodeDialogue {
            file: "ev".into(),
            codes: "codes".into(),
            key: "_key".into(),
            value_separator: Some("_@_".into()),
            question: "q".into(),
            meanings: "vm".into(),
            meaning: "en".into(),
            bare_answer: "Yes".into(),
            speakers: ["Doctor".into(), "Patient".into()],
            into: "d".into(),
        }
    }

    fn record(v: Value) -> Record {
        Record {
            fields: v.as_object().unwrap().clone(),
            locator: String::new(),
            raw_sha256: String::new(),
        }
    }

    /// Runs the step over `codes` with a table of three questions.
    fn run(codes: Value) -> Result<Map<String, Value>, String> {
        let table = vec![
            record(json!({"_key": "E_53", "q": "Pain?", "vm": {}})),
            record(
                json!({"_key": "E_55", "q": "Where?", "vm": {"V_89": {"en": "forehead", "fr": "front"}, "V_161": {"en": "temple(R)"}}}),
            ),
            record(json!({"_key": "E_56", "q": "How intense?", "vm": {"V_1": {"fr": "un"}}})),
        ];
        let lookups = LookupFiles {
            files: HashMap::from([("ev".to_string(), table)]),
        };
        let index: HashMap<String, usize> = [("E_53", 0), ("E_55", 1), ("E_56", 2)]
            .into_iter()
            .map(|(k, i)| (k.to_string(), i))
            .collect();
        let env = Environment::new();
        let prep = Prepared::default();
        let cx = OpContext {
            prep: &prep,
            env: &env,
            index: &index,
            lookups: &lookups,
        };
        let mut f = json!({ "codes": codes }).as_object().unwrap().clone();
        apply(&mut f, &step(), &cx)
            .map(|_| f)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn codes_become_turns_and_repeated_questions_join_their_answers() {
        let f = run(json!([
            "E_53",
            "E_99",
            "E_55_@_V_89",
            "E_55_@_V_161",
            "E_55_@_V_7",
            "E_56_@_4",
            "E_53"
        ]))
        .unwrap();
        assert_eq!(
            f["d"],
            "\nDoctor: Pain?\nPatient: Yes\nDoctor: Where?\nPatient: forehead, temple(R), V_7\nDoctor: How intense?\nPatient: 4\nDoctor: Pain?\nPatient: Yes"
        );
        assert_eq!(f["d_missing"], json!(["E_99"]));
    }

    #[test]
    fn a_missing_code_between_two_answers_does_not_end_the_turn() {
        let f = run(json!(["E_55_@_V_89", "E_98_@_x", "E_55_@_V_161"])).unwrap();
        assert_eq!(f["d"], "\nDoctor: Where?\nPatient: forehead, temple(R)");
        assert_eq!(f["d_missing"], json!(["E_98_@_x"]));
        let f = run(json!("E_53")).unwrap();
        assert_eq!(f["d"], "\nDoctor: Pain?\nPatient: Yes");
        let f = run(Value::Null).unwrap();
        assert_eq!((&f["d"], &f["d_missing"]), (&json!(""), &json!([])));
    }

    #[test]
    fn a_meaning_without_the_asked_member_quarantines_the_record() {
        assert_eq!(
            run(json!(["E_56_@_V_1"])).unwrap_err(),
            "`E_56`: the meaning of `V_1` has no member `en`"
        );
        assert_eq!(
            run(json!({"not": "codes"})).unwrap()["d_missing"],
            json!([r#"{"not":"codes"}"#])
        );
    }
}
