//! The two catalogues a DPO edits beside the retention policy: `terms.toml` (each Dotdigital and
//! Meta document that governs the integration: owner, title, address, what it covers, when it was
//! last reviewed) and `data_flows.toml` (the flows the published data-flow page documents: each
//! with direction, field kinds, purpose, lawful basis and governing documents; Meta's own
//! retention per category; the documents that govern each field kind wherever it flows).
//! Validated at load: every problem is one line naming the file, the line and the fix, and a flow
//! that names a document the terms catalogue lacks is an error.

use super::{PolicyError, PolicyIssue, Window};
use crate::domain::{Category, Direction, FieldKind};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use strum::IntoEnumIterator;
use toml::Spanned;

/// Who publishes a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Owner {
    Dotdigital,
    Meta,
}

/// One governing document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    pub id: String,
    pub owner: Owner,
    pub title: String,
    pub url: String,
    pub covers: String,
    pub reviewed: NaiveDate,
}

/// One documented flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentedFlow {
    pub id: String,
    pub direction: Direction,
    pub name: String,
    pub fields: Vec<FieldKind>,
    pub purpose: String,
    pub lawful_basis: String,
    pub terms: Vec<String>,
}

/// How long Meta may keep its copy of a category, and the document that says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaRetention {
    pub window: Window,
    pub document: String,
}

/// Both catalogues, cross-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    pub documents: BTreeMap<String, Document>,
    pub flows: Vec<DocumentedFlow>,
    pub meta_retention: BTreeMap<Category, MetaRetention>,
    pub field_terms: BTreeMap<FieldKind, Vec<String>>,
    /// SHA-256 of both files, for reports.
    pub digest: String,
}

/// The catalogues shipped with waledger.
pub const DEFAULT_TERMS: &str = include_str!("../../policies/terms.toml");
pub const DEFAULT_FLOWS: &str = include_str!("../../policies/data_flows.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerms {
    #[serde(default)]
    document: Vec<Spanned<RawDocument>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    id: Spanned<String>,
    owner: Spanned<String>,
    title: String,
    url: Spanned<String>,
    covers: String,
    reviewed: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlows {
    #[serde(default)]
    flow: Vec<Spanned<RawFlow>>,
    #[serde(default)]
    meta_retention: BTreeMap<Spanned<String>, RawMetaRetention>,
    #[serde(default)]
    field_terms: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    id: Spanned<String>,
    direction: Spanned<String>,
    name: String,
    fields: Vec<Spanned<String>>,
    purpose: String,
    lawful_basis: String,
    terms: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetaRetention {
    window: Spanned<String>,
    document: Spanned<String>,
}

/// Collects problems with their lines.
struct Issues<'a> {
    file: &'a Path,
    text: &'a str,
    found: Vec<PolicyIssue>,
}

impl Issues<'_> {
    fn at(&mut self, offset: usize, message: String) {
        let line = self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        self.found.push(PolicyIssue {
            file: self.file.to_path_buf(),
            line: Some(line),
            message,
        });
    }
}

fn parse_toml<T: for<'de> Deserialize<'de>>(file: &Path, text: &str) -> Result<T, PolicyError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
        let fix =
            "check the spelling of the keys against the comments at the top of the shipped file";
        PolicyError(vec![PolicyIssue {
            file: file.to_path_buf(),
            line,
            message: format!("not a valid catalogue: {}; {fix}", e.message().trim()),
        }])
    })
}

fn names<T: IntoEnumIterator + AsRef<str>>() -> String {
    T::iter()
        .map(|t| t.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Catalogue {
    /// Reads `terms.toml` and `data_flows.toml` from the policy folder; a missing file falls back
    /// to the shipped one (returned in the second value, for `policy check` to say so).
    pub fn load(folder: &Path) -> Result<(Self, Vec<PathBuf>), PolicyError> {
        let mut defaults = Vec::new();
        let mut read =
            |name: &str, shipped: &'static str| -> Result<(PathBuf, String), PolicyError> {
                let path = folder.join(name);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Ok((path, text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        defaults.push(path.clone());
                        Ok((path, shipped.to_string()))
                    }
                    Err(e) => Err(PolicyError(vec![PolicyIssue {
                        file: path,
                        line: None,
                        message: format!("cannot read it ({e}); check its permissions"),
                    }])),
                }
            };
        let (terms_path, terms) = read("terms.toml", DEFAULT_TERMS)?;
        let (flows_path, flows) = read("data_flows.toml", DEFAULT_FLOWS)?;
        let catalogue = Self::parse(&terms_path, &terms, &flows_path, &flows)?;
        Ok((catalogue, defaults))
    }

    /// Parses and cross-checks both catalogues; every problem of both files is reported.
    pub fn parse(
        terms_file: &Path,
        terms_text: &str,
        flows_file: &Path,
        flows_text: &str,
    ) -> Result<Self, PolicyError> {
        let raw_terms: RawTerms = parse_toml(terms_file, terms_text)?;
        let raw_flows: RawFlows = parse_toml(flows_file, flows_text)?;
        let mut found = Vec::new();
        let documents = {
            let mut issues = Issues {
                file: terms_file,
                text: terms_text,
                found: Vec::new(),
            };
            let documents = read_documents(raw_terms, &mut issues);
            found.extend(issues.found);
            documents
        };
        let mut issues = Issues {
            file: flows_file,
            text: flows_text,
            found: Vec::new(),
        };
        let known = |id: &Spanned<String>, issues: &mut Issues<'_>| {
            if !documents.contains_key(id.get_ref()) {
                issues.at(
                    id.span().start,
                    format!(
                        "document '{}' is not in the terms catalogue; add it to {} or fix the id",
                        id.get_ref(),
                        terms_file.display()
                    ),
                );
            }
        };
        let mut flows = Vec::new();
        let mut seen = BTreeSet::new();
        for raw in raw_flows.flow {
            let start = raw.span().start;
            let raw = raw.into_inner();
            if !seen.insert(raw.id.get_ref().clone()) {
                issues.at(
                    raw.id.span().start,
                    format!(
                        "flow id '{}' is used twice; give each flow its own id",
                        raw.id.get_ref()
                    ),
                );
            }
            let direction = Direction::from_str(raw.direction.get_ref()).map_err(|_| {
                issues.at(
                    raw.direction.span().start,
                    format!(
                        "unknown direction '{}' (expected outbound or inbound)",
                        raw.direction.get_ref()
                    ),
                )
            });
            let mut fields = Vec::new();
            for field in &raw.fields {
                match FieldKind::from_str(field.get_ref()) {
                    Ok(kind) => fields.push(kind),
                    Err(_) => issues.at(
                        field.span().start,
                        format!(
                            "unknown field kind '{}' (expected one of: {})",
                            field.get_ref(),
                            names::<FieldKind>()
                        ),
                    ),
                }
            }
            if raw.fields.is_empty() {
                issues.at(
                    start,
                    format!(
                        "flow '{}' lists no field kinds; name at least one in `fields`",
                        raw.id.get_ref()
                    ),
                );
            }
            for id in &raw.terms {
                known(id, &mut issues);
            }
            if let Ok(direction) = direction {
                flows.push(DocumentedFlow {
                    id: raw.id.into_inner(),
                    direction,
                    name: raw.name,
                    fields,
                    purpose: raw.purpose,
                    lawful_basis: raw.lawful_basis,
                    terms: raw.terms.into_iter().map(Spanned::into_inner).collect(),
                });
            }
        }
        let mut meta_retention = BTreeMap::new();
        for (category, raw) in raw_flows.meta_retention {
            known(&raw.document, &mut issues);
            let window = Window::from_str(raw.window.get_ref()).map_err(|e| {
                issues.at(
                    raw.window.span().start,
                    format!("bad duration '{}': {e}", raw.window.get_ref()),
                )
            });
            match (Category::from_str(category.get_ref()), window) {
                (Ok(category), Ok(window)) => {
                    meta_retention.insert(
                        category,
                        MetaRetention {
                            window,
                            document: raw.document.into_inner(),
                        },
                    );
                }
                (Err(_), _) => issues.at(
                    category.span().start,
                    format!(
                        "unknown category '{}' (expected one of: {})",
                        category.get_ref(),
                        names::<Category>()
                    ),
                ),
                _ => {}
            }
        }
        let mut field_terms = BTreeMap::new();
        for (field, ids) in raw_flows.field_terms {
            for id in &ids {
                known(id, &mut issues);
            }
            match FieldKind::from_str(field.get_ref()) {
                Ok(kind) => {
                    field_terms.insert(kind, ids.into_iter().map(Spanned::into_inner).collect());
                }
                Err(_) => issues.at(
                    field.span().start,
                    format!(
                        "unknown field kind '{}' (expected one of: {})",
                        field.get_ref(),
                        names::<FieldKind>()
                    ),
                ),
            }
        }
        found.extend(issues.found);
        if !found.is_empty() {
            return Err(PolicyError(found));
        }
        let digest = hex::encode(crate::crypto::sha256(&[
            terms_text.as_bytes(),
            flows_text.as_bytes(),
        ]));
        Ok(Self {
            documents,
            flows,
            meta_retention,
            field_terms,
            digest,
        })
    }

    /// The documented flow that lists `field` for `direction`, if any.
    pub fn flow_for(&self, field: FieldKind, direction: Direction) -> Option<&DocumentedFlow> {
        self.flows
            .iter()
            .find(|f| f.direction == direction && f.fields.contains(&field))
    }

    /// The documents that govern a value of `field` flowing in `direction`: its flow's, or,
    /// for an undocumented flow, those the catalogue names for the field kind.
    pub fn terms_for(&self, field: FieldKind, direction: Direction) -> Vec<&Document> {
        let ids = match self.flow_for(field, direction) {
            Some(flow) => &flow.terms,
            None => match self.field_terms.get(&field) {
                Some(ids) => ids,
                None => return Vec::new(),
            },
        };
        ids.iter().filter_map(|id| self.documents.get(id)).collect()
    }
}

fn read_documents(raw: RawTerms, issues: &mut Issues<'_>) -> BTreeMap<String, Document> {
    let mut documents = BTreeMap::new();
    for doc in raw.document {
        let doc = doc.into_inner();
        let owner = match doc.owner.get_ref().as_str() {
            "Dotdigital" => Some(Owner::Dotdigital),
            "Meta" => Some(Owner::Meta),
            other => {
                issues.at(
                    doc.owner.span().start,
                    format!("unknown owner '{other}' (expected Dotdigital or Meta)"),
                );
                None
            }
        };
        let reviewed =
            NaiveDate::parse_from_str(doc.reviewed.get_ref(), "%Y-%m-%d").map_err(|_| {
                issues.at(
                    doc.reviewed.span().start,
                    format!(
                        "bad date '{}'; write when it was last reviewed as YYYY-MM-DD",
                        doc.reviewed.get_ref()
                    ),
                )
            });
        if !doc.url.get_ref().starts_with("https://") {
            issues.at(
                doc.url.span().start,
                "the address must start with https://".to_string(),
            );
        }
        if documents.contains_key(doc.id.get_ref()) {
            issues.at(
                doc.id.span().start,
                format!(
                    "document id '{}' is used twice; give each document its own id",
                    doc.id.get_ref()
                ),
            );
            continue;
        }
        if let (Some(owner), Ok(reviewed)) = (owner, reviewed) {
            let id = doc.id.into_inner();
            documents.insert(
                id.clone(),
                Document {
                    id,
                    owner,
                    title: doc.title,
                    url: doc.url.into_inner(),
                    covers: doc.covers,
                    reviewed,
                },
            );
        }
    }
    documents
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(terms: &str, flows: &str) -> Result<Catalogue, PolicyError> {
        Catalogue::parse(
            Path::new("policies/terms.toml"),
            terms,
            Path::new("policies/data_flows.toml"),
            flows,
        )
    }

    #[test]
    fn the_shipped_catalogues_document_the_seed_pages_nine_flows() {
        let c = parse(DEFAULT_TERMS, DEFAULT_FLOWS).unwrap();
        let outbound = c
            .flows
            .iter()
            .filter(|f| f.direction == Direction::Outbound)
            .count();
        let inbound = c
            .flows
            .iter()
            .filter(|f| f.direction == Direction::Inbound)
            .count();
        assert_eq!((outbound, inbound), (6, 3));
        assert!(c
            .flow_for(FieldKind::TemplateField, Direction::Outbound)
            .is_some());
        assert!(c
            .flow_for(FieldKind::RecipientPhone, Direction::Inbound)
            .is_none());
        assert!(c.flow_for(FieldKind::Pricing, Direction::Inbound).is_none());
        assert!(!c
            .terms_for(FieldKind::Pricing, Direction::Inbound)
            .is_empty());
        for field in FieldKind::iter() {
            assert!(
                c.field_terms.contains_key(&field),
                "{field} has no governing documents"
            );
        }
        assert_eq!(c.meta_retention[&Category::Text].window.to_string(), "30d");
    }

    #[test]
    fn every_problem_names_its_line_and_fix() {
        let terms = "[[document]]\nid = \"a\"\nowner = \"Meta\"\ntitle = \"A\"\nurl = \"https://a\"\ncovers = \"x\"\nreviewed = \"2026-11-27\"\n\n[[document]]\nid = \"b\"\nowner = \"Facebook\"\ntitle = \"B\"\nurl = \"http://b\"\ncovers = \"y\"\nreviewed = \"last week\"\n";
        let flows = "[[flow]]\nid = \"f\"\ndirection = \"sideways\"\nname = \"F\"\nfields = [\"recipient_phone\", \"phone\"]\npurpose = \"p\"\nlawful_basis = \"l\"\nterms = [\"a\", \"missing-doc\"]\n";
        let err = parse(terms, flows).unwrap_err();
        let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
        let has = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
        assert!(
            has("policies/terms.toml: line 11: unknown owner 'Facebook'"),
            "{lines:#?}"
        );
        assert!(
            has("policies/terms.toml: line 13: the address must start with https://"),
            "{lines:#?}"
        );
        assert!(
            has("policies/terms.toml: line 15: bad date 'last week'"),
            "{lines:#?}"
        );
        assert!(
            has("policies/data_flows.toml: line 3: unknown direction 'sideways'"),
            "{lines:#?}"
        );
        assert!(
            has("policies/data_flows.toml: line 5: unknown field kind 'phone'"),
            "{lines:#?}"
        );
        assert!(
            has("policies/data_flows.toml: line 8: document 'missing-doc' is not in the terms catalogue"),
            "{lines:#?}"
        );
        let bad_key = parse(terms, "[[flow]]\nid = \"f\"\ndirektion = \"inbound\"\n").unwrap_err();
        assert!(bad_key.to_string().contains("line "), "{bad_key}");
    }
}
