//! Closed vocabularies: MedS-Ins's 19 task categories and 5 text sources, access classes, splits.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// The 19 task categories of MedS-Ins.
    Category {
        TextClassification => "Text Classification",
        NamedEntityRecognition => "Named Entity Recognition",
        InformationExtraction => "Information Extraction",
        Explanation => "Explanation",
        QuestionAnswering => "Question Answering",
        TextSummarization => "Text Summarization",
        TextRetrieval => "Text Retrieval",
        TextCompletion => "Text Completion",
        FactVerification => "Fact Verification",
        IntentIdentification => "Intent Identification",
        Translation => "Translation",
        SentenceCompositionAnalysis => "Sentence Composition Analysis",
        NaturalLanguageInference => "Natural Language Inference",
        WordRelationClassification => "Word Relation Classification",
        Dialogue => "Dialogue",
        WrongCandidateGeneration => "Wrong Candidate Generation",
        Diagnosis => "Diagnosis",
        TreatmentPlanning => "Treatment Planning",
        ClinicalOutcomePrediction => "Clinical Outcome Prediction",
    }
);

string_enum!(
    /// The 5 text sources of MedS-Ins.
    TextSource {
        Exam => "Exam",
        ClinicalText => "Clinical Text",
        AcademicalPapers => "Academical Papers",
        MedicalKnowledge => "Medical Knowledge",
        DailyConversation => "Daily Conversation",
    }
);

string_enum!(
    /// Who may obtain a corpus. Ordered from most open to most restricted.
    Access {
        Public => "public",
        Registration => "registration",
        Credentialed => "credentialed",
    }
);

string_enum!(
    /// Output splits, named as Hugging Face `datasets` names them.
    Split {
        Train => "train",
        Validation => "validation",
        Test => "test",
    }
);

string_enum!(
    /// Why a sample or a raw record is in the ledger. Every reason but the `_flag` ones removes
    /// what it names.
    LedgerReason {
        Filtered => "filtered",
        Quarantined => "quarantined",
        EmptyInput => "empty_input",
        EmptyOutput => "empty_output",
        ExactDuplicate => "exact_duplicate",
        ExactDuplicateFlag => "exact_duplicate_flag",
        NearDuplicate => "near_duplicate",
        NearDuplicateFlag => "near_duplicate_flag",
        Contaminated => "contaminated",
        Leak => "leak",
        LeakFlag => "leak_flag",
        TooLong => "too_long",
    }
);

string_enum!(
    /// How a build renders and cleans samples. `clean` (the default): manifests' own renderings,
    /// normalised text, duplicates, near-duplicates and leaks removed. `upstream`: the authors'
    /// preparation scripts reproduced byte for byte where the manifests declare how (their
    /// `[tasks.upstream]` overrides), text verbatim, every instance the scripts wrote kept.
    Profile {
        Clean => "clean",
        Upstream => "upstream",
    }
);

string_enum!(
    /// What the cross-task leakage pass does with a training sample whose input equals (or
    /// near-duplicates) a held-out input: remove it (`leak`), flag it and keep it (`leak_flag`),
    /// or not look (`off`).
    LeakagePolicy {
        Remove => "remove",
        Flag => "flag",
        Off => "off",
    }
);

impl LeakagePolicy {
    /// The policy a profile implies when `--leakage` is not given: `remove` when cleaning,
    /// `off` when reproducing the authors' scripts (which held nothing out).
    pub fn default_for(profile: Profile) -> LeakagePolicy {
        match profile {
            Profile::Clean => LeakagePolicy::Remove,
            Profile::Upstream => LeakagePolicy::Off,
        }
    }
}

impl LedgerReason {
    /// Reasons that flag a sample without removing it.
    pub fn is_flag(self) -> bool {
        self.as_str().ends_with("_flag")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_have_meds_ins_sizes() {
        assert_eq!(Category::ALL.len(), 19);
        assert_eq!(TextSource::ALL.len(), 5);
        assert_eq!(
            Category::parse("Named Entity Recognition"),
            Some(Category::NamedEntityRecognition)
        );
        assert_eq!(Category::parse("NER"), None);
        assert!(Access::Public < Access::Credentialed);
        assert!(LedgerReason::NearDuplicateFlag.is_flag());
        assert!(!LedgerReason::NearDuplicate.is_flag());
        assert_eq!(LedgerReason::parse("too_long"), Some(LedgerReason::TooLong));
        assert!(LedgerReason::LeakFlag.is_flag() && LedgerReason::ExactDuplicateFlag.is_flag());
        assert_eq!(Profile::parse("upstream"), Some(Profile::Upstream));
        assert_eq!(
            LeakagePolicy::default_for(Profile::Clean),
            LeakagePolicy::Remove
        );
        assert_eq!(
            LeakagePolicy::default_for(Profile::Upstream),
            LeakagePolicy::Off
        );
    }
}
