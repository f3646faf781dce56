//! A Postman collection prepared for one newman run.
//!
//! Postman requests carry no stable id and several share a name (Microsoft's collection has
//! two "Post emp3 exists try again" in one folder), so every request gets an id here and a
//! label `Folder / Request`, with ` #n` for the n-th request of that label (n > 1). The
//! labels are what the expected failures name.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

/// A collection ready for newman, and the label of each request by the id given to it.
#[derive(Debug)]
pub struct Prepared {
    json: Value,
    labels: HashMap<String, String>,
}

impl Prepared {
    /// Prepares `collection` (Postman v2.1 JSON) without the top-level folders named in
    /// `drop_folders`.
    pub fn new(mut collection: Value, drop_folders: &[&str]) -> anyhow::Result<Self> {
        let items = collection
            .get_mut("item")
            .and_then(Value::as_array_mut)
            .context("the collection has no item array")?;
        items.retain(|item| {
            let folder = item.get("item").is_some();
            !(folder && drop_folders.iter().any(|d| item["name"] == *d))
        });
        let mut labels = HashMap::new();
        let mut seen = HashMap::new();
        label_items(items, "", &mut labels, &mut seen);
        Ok(Self {
            json: collection,
            labels,
        })
    }

    /// Reads and prepares the collection at `path`.
    pub fn from_file(path: &Path, drop_folders: &[&str]) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let json =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Self::new(json, drop_folders)
    }

    /// Writes the prepared collection for newman.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.json.to_string())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// The label of the request newman reports with item id `id`.
    pub fn label(&self, id: &str) -> Option<&str> {
        self.labels.get(id).map(String::as_str)
    }

    /// How many requests the prepared collection holds.
    pub fn requests(&self) -> usize {
        self.labels.len()
    }
}

fn label_items(
    items: &mut [Value],
    folder: &str,
    labels: &mut HashMap<String, String>,
    seen: &mut HashMap<String, usize>,
) {
    for item in items {
        let name = item["name"].as_str().unwrap_or("(unnamed)").to_string();
        let path = if folder.is_empty() {
            name
        } else {
            format!("{folder} / {name}")
        };
        if let Some(children) = item.get_mut("item").and_then(Value::as_array_mut) {
            label_items(children, &path, labels, seen);
            continue;
        }
        let n = seen.entry(path.clone()).or_insert(0);
        *n += 1;
        let label = if *n == 1 {
            path
        } else {
            format!("{path} #{n}")
        };
        let id = format!("req-{:03}", labels.len());
        item["id"] = Value::String(id.clone());
        labels.insert(id, label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folders_are_dropped_and_repeated_names_numbered() {
        let collection = json!({"item": [
            {"name": "Get Token", "item": [{"name": "Get Token", "request": {}}]},
            {"name": "Users", "item": [
                {"name": "Post", "request": {}},
                {"name": "Post", "request": {}},
                {"name": "Sub", "item": [{"name": "Post", "request": {}}]}
            ]},
            {"name": "Get all", "request": {}}
        ]});
        let prepared = Prepared::new(collection, &["Get Token"]).unwrap();
        let mut labels: Vec<_> = prepared.labels.values().cloned().collect();
        labels.sort();
        assert_eq!(
            labels,
            [
                "Get all",
                "Users / Post",
                "Users / Post #2",
                "Users / Sub / Post"
            ]
        );
        assert_eq!(prepared.json["item"][0]["name"], "Users");
        let id = prepared.json["item"][0]["item"][1]["id"].as_str().unwrap();
        assert_eq!(prepared.label(id), Some("Users / Post #2"));
    }
}
