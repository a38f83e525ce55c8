//! Checks the JSON bodies the bot sends to Discord, without Discord.
//!
//! Two layers, both needed:
//! 1. **Discord's own OpenAPI description** (`tests/fixtures/openapi.json`, vendored unmodified):
//!    each request body is validated with the `jsonschema` crate (draft 2020-12) against the
//!    `requestBody.content."application/json".schema` of the operation, found by path + method
//!    in the spec's `paths`, with `#/components/schemas/...` references resolved inside the spec.
//! 2. **Documented limits the spec omits or gets wrong**, checked by hand: total embed
//!    characters, a select alone in its row, unique custom_ids, link buttons, string choice
//!    values, and the bot's own rule that every message it sends carries `allowed_mentions`
//!    with an empty `parse` list (so user text can never ping `@everyone`).
//!
//! Validators are compiled once per test binary (a `static OnceLock`); [`compile_time`] reports
//! how long that took. Every function returns a list of human-readable violations (empty =
//! clean), so unit tests can call them directly and the fake Discord can record them.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Where the vendored spec lives; read at run time from the crate, never from outside it.
pub const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openapi.json");

/// Message flag: only the invoking user sees the message.
pub const EPHEMERAL: u64 = 1 << 6;
/// Message flag: the message uses the newer layout components (no action-row rules).
const IS_COMPONENTS_V2: u64 = 1 << 15;

/// The operations whose request bodies the bot sends, as (method, path in the spec).
const CALLBACK: (&str, &str) = ("post", "/interactions/{interaction_id}/{interaction_token}/callback");
const WEBHOOK_EXECUTE: (&str, &str) = ("post", "/webhooks/{webhook_id}/{webhook_token}");
const WEBHOOK_EDIT: (&str, &str) = ("patch", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}");
const CHANNEL_MESSAGE_EDIT: (&str, &str) = ("patch", "/channels/{channel_id}/messages/{message_id}");
const COMMANDS_PUT: (&str, &str) = ("put", "/applications/{application_id}/commands");
const GUILD_COMMANDS_PUT: (&str, &str) = ("put", "/applications/{application_id}/guilds/{guild_id}/commands");

/// One compiled request-body schema. A top-level `anyOf`/`oneOf` (the callback and webhook
/// unions) is split into its branches so a failure can be explained by the branch the payload
/// meant (picked by its `type` value) instead of "not valid under any of the schemas".
struct Operation {
    label: String,
    branches: Vec<Branch>,
}

struct Branch {
    name: String,
    /// The `type` values this branch accepts (`properties.type.enum`), if it says.
    type_enum: Option<Vec<i64>>,
    validator: jsonschema::Validator,
}

struct Validators {
    callback: Operation,
    webhook_execute: Operation,
    webhook_edit: Operation,
    channel_message_edit: Operation,
    commands_put: Operation,
    compile_time: Duration,
}

static VALIDATORS: OnceLock<Validators> = OnceLock::new();

fn validators() -> &'static Validators {
    VALIDATORS.get_or_init(|| {
        let started = Instant::now();
        let text = std::fs::read(SPEC_PATH)
            .unwrap_or_else(|e| panic!("cannot read the vendored Discord spec {SPEC_PATH}: {e}"));
        let spec: Value = serde_json::from_slice(&text).expect("openapi.json is not JSON");
        // Both bulk-overwrite routes must share one body schema; if a spec update ever splits
        // them, fail loudly rather than validate guild commands against the wrong schema.
        assert_eq!(
            request_schema(&spec, COMMANDS_PUT),
            request_schema(&spec, GUILD_COMMANDS_PUT),
            "global and guild command overwrite bodies differ in the spec"
        );
        Validators {
            callback: compile_operation(&spec, CALLBACK),
            webhook_execute: compile_operation(&spec, WEBHOOK_EXECUTE),
            webhook_edit: compile_operation(&spec, WEBHOOK_EDIT),
            channel_message_edit: compile_operation(&spec, CHANNEL_MESSAGE_EDIT),
            commands_put: compile_operation(&spec, COMMANDS_PUT),
            compile_time: started.elapsed(),
        }
    })
}

/// Compiles every validator (once per test binary) and returns how long that took
/// (reading and parsing the 1.2 MB spec included).
pub fn compile_time() -> Duration {
    validators().compile_time
}

fn request_schema<'a>(spec: &'a Value, (method, path): (&str, &str)) -> &'a Value {
    let schema = &spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "the spec has no JSON request body for {} {path}",
        method.to_uppercase()
    );
    schema
}

fn compile_operation(spec: &Value, op: (&str, &str)) -> Operation {
    let schema = request_schema(spec, op);
    let label = format!("{} {}", op.0.to_uppercase(), op.1);
    let parts: Vec<Value> = match (schema.get("anyOf"), schema.get("oneOf")) {
        (Some(Value::Array(v)), _) | (_, Some(Value::Array(v))) if schema.get("type").is_none() => v.clone(),
        _ => vec![schema.clone()],
    };
    let branches = parts
        .into_iter()
        .map(|part| {
            let resolved = resolve(spec, &part);
            let type_enum = resolved["properties"]["type"]["enum"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).collect());
            let name = part["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .unwrap_or("inline schema")
                .to_string();
            // The branch becomes the root of its own document; `components` is copied in so
            // the spec's `#/components/schemas/...` references resolve exactly as in the spec.
            let mut root = match part {
                Value::Object(m) => m,
                other => panic!("unexpected schema {other}"),
            };
            root.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
            root.insert("components".into(), spec["components"].clone());
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                // Nothing is fetched from the network: every reference is inside the spec.
                .offline()
                .build(&Value::Object(root))
                .unwrap_or_else(|e| panic!("cannot compile the spec schema {name}: {e}"));
            Branch {
                name: if name == "inline schema" { label.clone() } else { name },
                type_enum,
                validator,
            }
        })
        .collect();
    Operation { label, branches }
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r} in the spec")),
        None => schema,
    }
}

impl Operation {
    /// Spec violations of `body` (empty when valid).
    fn check(&self, body: &Value) -> Vec<String> {
        let body = normalize_known_deviations(body);
        let ty = body.get("type").and_then(Value::as_i64);
        let candidates: Vec<&Branch> = match ty {
            Some(t) if self.branches.iter().any(|b| b.type_enum.is_some()) => self
                .branches
                .iter()
                .filter(|b| b.type_enum.as_ref().is_some_and(|e| e.contains(&t)))
                .collect(),
            _ => self.branches.iter().collect(),
        };
        if candidates.is_empty() {
            let mut known: Vec<i64> = self
                .branches
                .iter()
                .flat_map(|b| b.type_enum.clone().unwrap_or_default())
                .collect();
            known.sort_unstable();
            return vec![format!(
                "spec ({}): /type: {} is not one of the types the spec allows {known:?}",
                self.label, body["type"]
            )];
        }
        if candidates.iter().any(|b| b.validator.is_valid(&body)) {
            return Vec::new();
        }
        // Explain with the candidate branch that comes closest (fewest errors).
        let best = candidates
            .iter()
            .map(|b| (b, describe_errors(&b.validator, &body)))
            .min_by_key(|(_, errs)| errs.len())
            .expect("at least one candidate");
        best.1
            .into_iter()
            .map(|e| format!("spec ({}): {e}", best.0.name))
            .collect()
    }
}

/// Where the spec disagrees with Discord's documentation and with what Discord accepts, the
/// payload is adjusted before validation (each case says why), so only real problems remain.
fn normalize_known_deviations(body: &Value) -> Value {
    let mut body = body.clone();
    // The spec types `default_member_permissions` as an integer; Discord documents it as a
    // string ("bit set") and serenity sends it as a string. Validate the number it encodes.
    let commands: Vec<&mut Value> = match &mut body {
        Value::Array(a) => a.iter_mut().collect(),
        other => vec![other],
    };
    for cmd in commands {
        if let Some(p) = cmd.get_mut("default_member_permissions") {
            if let Some(n) = p.as_str().and_then(|s| s.parse::<u64>().ok()) {
                *p = json!(n);
            }
        }
    }
    body
}

/// Turns jsonschema errors into short lines with the JSON pointer.
///
/// The spec describes components, options and choices as `oneOf` unions, so a plain error list
/// says "not valid under any of the schemas" and then lists why the payload is not each of the
/// other kinds. Walking the evaluation tree instead, a union is explained only by the branches
/// whose discriminator matched (same `type` value, same JSON type), which leaves the real cause.
fn describe_errors(validator: &jsonschema::Validator, body: &Value) -> Vec<String> {
    let evaluation = validator.evaluate(body);
    let mut found = Vec::new();
    explain(evaluation.root(), &mut found);
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < found.len() {
        let (at, kw, msg) = &found[i];
        // A value that matched none of several constants: one line, not one per constant.
        if kw == "const" {
            let mut expected = Vec::new();
            while i < found.len() && found[i].0 == *at && found[i].1 == "const" {
                expected.push(found[i].2.trim_end_matches(" was expected").to_string());
                i += 1;
            }
            let actual = body.pointer(at).map(Value::to_string).unwrap_or_default();
            out.push(format!(
                "{}: {} is not one of {}",
                pointer_or_root(at),
                shorten(&actual),
                expected.join(", ")
            ));
            continue;
        }
        let line = format!("{}: {}", pointer_or_root(at), shorten(msg));
        if !out.contains(&line) {
            out.push(line);
        }
        i += 1;
    }
    if out.is_empty() {
        // Fall back to the plain list, should the tree ever say nothing.
        out = validator
            .iter_errors(body)
            .map(|e| {
                format!(
                    "{}: {}",
                    pointer_or_root(e.instance_path().as_str()),
                    shorten(&e.to_string())
                )
            })
            .collect();
    }
    out.truncate(12);
    out
}

/// Collects (instance location, keyword, message) of the failures under `unit`.
fn explain(unit: jsonschema::OutputUnit<'_>, out: &mut Vec<(String, String, String)>) {
    if unit.valid() {
        return;
    }
    let at = unit.instance_location().as_str().to_string();
    for e in unit.errors() {
        if !matches!(e.keyword(), "oneOf" | "anyOf" | "allOf" | "$ref") {
            out.push((at.clone(), e.keyword().to_string(), e.message().to_string()));
        }
    }
    let failed: Vec<_> = unit.children().filter(|c| !c.valid()).collect();
    let is_branch = |c: &jsonschema::OutputUnit<'_>| {
        let mut segs = c.evaluation_path().as_str().rsplit('/');
        let last = segs.next().unwrap_or_default();
        let parent = segs.next().unwrap_or_default();
        last.parse::<usize>().is_ok() && matches!(parent, "oneOf" | "anyOf")
    };
    let (branches, others): (Vec<_>, Vec<_>) = failed.into_iter().partition(is_branch);
    let matching: Vec<_> = branches
        .iter()
        .copied()
        .filter(|b| !discriminator_mismatch(*b, &at))
        .collect();
    let chosen = if matching.is_empty() { branches } else { matching };
    for c in chosen.into_iter().chain(others) {
        explain(c, out);
    }
}

/// Whether a failed union branch failed because the value is another kind of thing altogether:
/// a different JSON type at the union's location, or a different `type` field value.
fn discriminator_mismatch(unit: jsonschema::OutputUnit<'_>, union_at: &str) -> bool {
    let at = unit.instance_location().as_str();
    let mismatch = unit.errors().iter().any(|e| {
        (at == union_at && e.keyword() == "type")
            || (at.strip_prefix(union_at) == Some("/type") && matches!(e.keyword(), "enum" | "const"))
    });
    mismatch
        || unit
            .children()
            .any(|c| !c.valid() && discriminator_mismatch(c, union_at))
}

fn pointer_or_root(p: &str) -> &str {
    if p.is_empty() {
        "/"
    } else {
        p
    }
}

/// jsonschema messages embed the offending value; a 7000-character embed would drown the report.
fn shorten(s: &str) -> String {
    const MAX: usize = 160;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

fn len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

// ---------------------------------------------------------------------------------------------
// Public checks
// ---------------------------------------------------------------------------------------------

/// Everything wrong with an interaction callback body (`POST /interactions/{id}/{token}/callback`):
/// [`callback_discord_errors`] plus [`callback_policy_errors`].
pub fn validate_callback(body: &Value) -> Vec<String> {
    let mut out = callback_discord_errors(body);
    out.extend(callback_policy_errors(body));
    out
}

/// Discord accepts the placeholder id of a new file as a number (its docs' examples, and
/// serenity, send `"id": 0` beside the file part); the OpenAPI description types every
/// attachment id as a snowflake string. Reads such ids as Discord does, before validation.
pub fn stringify_attachment_ids(body: &mut Value) {
    let stringify = |list: Option<&mut Value>| {
        for a in list.and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(n) = a["id"].as_u64() {
                a["id"] = Value::String(n.to_string());
            }
        }
    };
    stringify(body.get_mut("attachments"));
    stringify(body.get_mut("data").and_then(|d| d.get_mut("attachments")));
}

fn as_discord_reads_it(body: &Value) -> Value {
    let mut body = body.clone();
    stringify_attachment_ids(&mut body);
    body
}

/// What Discord itself would refuse in a callback body: the spec and the documented limits.
pub fn callback_discord_errors(body: &Value) -> Vec<String> {
    let body = &as_discord_reads_it(body);
    let mut out = validators().callback.check(body);
    let data = &body["data"];
    match body["type"].as_i64() {
        // CHANNEL_MESSAGE_WITH_SOURCE, UPDATE_MESSAGE: a message the users will read.
        Some(t @ (4 | 7)) => {
            out.extend(check_message(data, "/data"));
            let has = |k: &str| {
                data[k].as_str().is_some_and(|s| !s.is_empty())
                    || data[k].as_array().is_some_and(|a| !a.is_empty())
                    || (k == "poll" && data[k].is_object())
            };
            if t == 4
                && !["content", "embeds", "components", "attachments", "poll"]
                    .iter()
                    .any(|k| has(k))
            {
                out.push(
                    "/data: Discord refuses an empty message (no content, embeds, components, attachments or poll)"
                        .into(),
                );
            }
        }
        Some(5) if data.is_object() => out.extend(check_message(data, "/data")),
        Some(8) => out.extend(check_autocomplete(data, "/data")),
        Some(9) => out.extend(check_modal(data, "/data")),
        _ => {}
    }
    out
}

/// The bot's own rules for a callback body: message-bearing callbacks (types 4 and 7) set
/// `allowed_mentions` with an empty `parse` list.
pub fn callback_policy_errors(body: &Value) -> Vec<String> {
    match body["type"].as_i64() {
        Some(4 | 7) => check_allowed_mentions(&body["data"], "/data"),
        _ => Vec::new(),
    }
}

/// Everything wrong with a follow-up message body (`POST /webhooks/{app}/{token}`).
pub fn validate_followup(body: &Value) -> Vec<String> {
    let mut out = followup_discord_errors(body);
    out.extend(check_allowed_mentions(body, ""));
    out
}

/// What Discord would refuse in a follow-up body.
pub fn followup_discord_errors(body: &Value) -> Vec<String> {
    let body = &as_discord_reads_it(body);
    let mut out = validators().webhook_execute.check(body);
    out.extend(check_message(body, ""));
    out
}

/// Everything wrong with a message edit body (`PATCH /webhooks/{app}/{token}/messages/{id}`,
/// including `@original`).
pub fn validate_message_edit(body: &Value) -> Vec<String> {
    let mut out = message_edit_discord_errors(body);
    out.extend(check_allowed_mentions(body, ""));
    out
}

/// What Discord would refuse in a message edit body.
pub fn message_edit_discord_errors(body: &Value) -> Vec<String> {
    let body = &as_discord_reads_it(body);
    let mut out = validators().webhook_edit.check(body);
    out.extend(check_message(body, ""));
    out
}

/// What Discord would refuse in a bot's own message edit (`PATCH /channels/{c}/messages/{m}`).
pub fn channel_message_edit_discord_errors(body: &Value) -> Vec<String> {
    let mut out = validators().channel_message_edit.check(body);
    out.extend(check_message(body, ""));
    out
}

/// Everything wrong with a bulk command overwrite body (`PUT /applications/{app}/commands`,
/// also the guild variant).
pub fn validate_command_overwrite(body: &Value) -> Vec<String> {
    let mut out = validators().commands_put.check(body);
    let Some(cmds) = body.as_array() else {
        out.push("/: a bulk overwrite must be an array of commands".into());
        return out;
    };
    let mut names = HashSet::new();
    for (i, c) in cmds.iter().enumerate() {
        let at = format!("/{i}");
        let kind = c["type"].as_i64().unwrap_or(1);
        if !names.insert((kind, c["name"].as_str().unwrap_or_default().to_string())) {
            out.push(format!("{at}/name: duplicate command name {}", c["name"]));
        }
        if kind == 1 {
            let name = c["name"].as_str().unwrap_or_default();
            if name.chars().any(|ch| ch.is_uppercase() || ch.is_whitespace()) {
                out.push(format!(
                    "{at}/name: slash command names are lowercase without spaces: {name:?}"
                ));
            }
            let d = len(&c["description"]);
            if !(1..=100).contains(&d) {
                out.push(format!(
                    "{at}/description: slash commands need 1..=100 characters, got {d}"
                ));
            }
        }
        check_command_options(&c["options"], &at, &mut out);
    }
    out
}

fn check_command_options(options: &Value, at: &str, out: &mut Vec<String>) {
    let Some(opts) = options.as_array() else {
        return;
    };
    if opts.len() > 25 {
        out.push(format!("{at}/options: {} options > 25", opts.len()));
    }
    for (i, o) in opts.iter().enumerate() {
        let at = format!("{at}/options/{i}");
        if !(1..=32).contains(&len(&o["name"])) {
            out.push(format!("{at}/name: option names need 1..=32 characters"));
        }
        if !(1..=100).contains(&len(&o["description"])) {
            out.push(format!("{at}/description: option descriptions need 1..=100 characters"));
        }
        if let Some(choices) = o["choices"].as_array() {
            if !choices.is_empty() && o["autocomplete"] == json!(true) {
                out.push(format!("{at}: an option cannot have both choices and autocomplete"));
            }
            check_choices(choices, &format!("{at}/choices"), out);
        }
        check_command_options(&o["options"], &at, out);
    }
}

/// The bot's rule: every message it sends says which mentions may ping, and allows none.
pub fn check_allowed_mentions(data: &Value, at: &str) -> Vec<String> {
    match data.get("allowed_mentions") {
        None | Some(Value::Null) => vec![format!(
            "{at}/allowed_mentions: missing; every message must set allowed_mentions with an empty parse list"
        )],
        Some(am) => match am.get("parse").and_then(Value::as_array) {
            Some(p) if p.is_empty() => Vec::new(),
            Some(p) => vec![format!(
                "{at}/allowed_mentions/parse: must be empty, got {}",
                Value::Array(p.clone())
            )],
            None => vec![format!(
                "{at}/allowed_mentions/parse: missing; an absent parse list lets Discord's defaults apply"
            )],
        },
    }
}

/// Discord's documented message limits (content, embeds, components), for a message body or a
/// callback's `data`. `at` is the JSON pointer prefix used in the messages.
pub fn check_message(data: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    let content = len(&data["content"]);
    if content > 2000 {
        out.push(format!("{at}/content: {content} characters > 2000"));
    }
    if let Some(embeds) = data["embeds"].as_array() {
        check_embeds(embeds, &format!("{at}/embeds"), &mut out);
    }
    let flags = data["flags"].as_u64().unwrap_or(0);
    if let Some(rows) = data["components"].as_array() {
        check_components(rows, flags, &format!("{at}/components"), &mut out);
    }
    out
}

fn check_embeds(embeds: &[Value], at: &str, out: &mut Vec<String>) {
    if embeds.len() > 10 {
        out.push(format!("{at}: {} embeds > 10", embeds.len()));
    }
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        let at = format!("{at}/{i}");
        let mut limit = |field: &str, v: &Value, max: usize, total: &mut usize| {
            let n = len(v);
            *total += n;
            if n > max {
                out.push(format!("{at}{field}: {n} characters > {max}"));
            }
        };
        limit("/title", &e["title"], 256, &mut total);
        limit("/description", &e["description"], 4096, &mut total);
        limit("/footer/text", &e["footer"]["text"], 2048, &mut total);
        limit("/author/name", &e["author"]["name"], 256, &mut total);
        if let Some(fields) = e["fields"].as_array() {
            for (j, f) in fields.iter().enumerate() {
                limit(&format!("/fields/{j}/name"), &f["name"], 256, &mut total);
                limit(&format!("/fields/{j}/value"), &f["value"], 1024, &mut total);
            }
            if fields.len() > 25 {
                out.push(format!("{at}/fields: {} fields > 25", fields.len()));
            }
            for (j, f) in fields.iter().enumerate() {
                if len(&f["name"]) == 0 || len(&f["value"]) == 0 {
                    out.push(format!("{at}/fields/{j}: field name and value must not be empty"));
                }
            }
        }
    }
    if total > 6000 {
        out.push(format!(
            "{at}: {total} characters across all embeds > 6000 (title, description, fields, footer, author)"
        ));
    }
}

fn check_components(rows: &[Value], flags: u64, at: &str, out: &mut Vec<String>) {
    let mut ids = HashSet::new();
    collect_custom_ids(rows, at, &mut ids, out);
    if flags & IS_COMPONENTS_V2 != 0 {
        // Layout components have other rules (40 in total); only the custom_id rules apply.
        return;
    }
    if rows.len() > 5 {
        out.push(format!("{at}: {} action rows > 5", rows.len()));
    }
    for (i, row) in rows.iter().enumerate() {
        let at = format!("{at}/{i}");
        if row["type"] != json!(1) {
            out.push(format!(
                "{at}/type: top-level components must be action rows (type 1), got {}",
                row["type"]
            ));
            continue;
        }
        let items = row["components"].as_array().map_or(&[][..], Vec::as_slice);
        if items.is_empty() {
            out.push(format!("{at}/components: an action row needs 1..=5 components"));
        }
        let buttons = items.iter().filter(|c| c["type"] == json!(2)).count();
        let selects = items
            .iter()
            .filter(|c| matches!(c["type"].as_i64(), Some(3 | 5 | 6 | 7 | 8)))
            .count();
        if buttons > 5 {
            out.push(format!("{at}/components: {buttons} buttons in one row > 5"));
        }
        if selects > 0 && items.len() > 1 {
            out.push(format!(
                "{at}/components: a select menu must be alone in its row ({} components)",
                items.len()
            ));
        }
        for (j, c) in items.iter().enumerate() {
            let at = format!("{at}/components/{j}");
            match c["type"].as_i64() {
                Some(2) => check_button(c, &at, out),
                Some(3 | 5 | 6 | 7 | 8) => check_select(c, &at, out),
                other => out.push(format!(
                    "{at}/type: {other:?} is not a component allowed in an action row"
                )),
            }
        }
    }
}

fn collect_custom_ids(items: &[Value], at: &str, ids: &mut HashSet<String>, out: &mut Vec<String>) {
    for (i, c) in items.iter().enumerate() {
        let at = format!("{at}/{i}");
        if let Some(id) = c.get("custom_id").and_then(Value::as_str) {
            let n = id.chars().count();
            if !(1..=100).contains(&n) {
                out.push(format!("{at}/custom_id: {n} characters, must be 1..=100"));
            }
            if !ids.insert(id.to_string()) {
                out.push(format!("{at}/custom_id: {id:?} is used twice in one message"));
            }
        }
        if let Some(children) = c.get("components").and_then(Value::as_array) {
            collect_custom_ids(children, &format!("{at}/components"), ids, out);
        }
        if let Some(accessory) = c.get("accessory") {
            collect_custom_ids(std::slice::from_ref(accessory), &format!("{at}/accessory"), ids, out);
        }
    }
}

fn check_button(c: &Value, at: &str, out: &mut Vec<String>) {
    let label = len(&c["label"]);
    if label > 80 {
        out.push(format!("{at}/label: {label} characters > 80"));
    }
    if label == 0 && c["emoji"].is_null() {
        out.push(format!("{at}: a button needs a label or an emoji"));
    }
    let has_id = c["custom_id"].is_string();
    let has_url = c["url"].is_string();
    match c["style"].as_i64() {
        Some(5) => {
            if !has_url || has_id {
                out.push(format!("{at}: a link button (style 5) needs a url and no custom_id"));
            }
        }
        Some(6) => {
            if c["sku_id"].is_null() || has_id || has_url {
                out.push(format!(
                    "{at}: a premium button (style 6) needs a sku_id and neither url nor custom_id"
                ));
            }
        }
        Some(1..=4) => {
            if !has_id || has_url {
                out.push(format!("{at}: a non-link button needs a custom_id and no url"));
            }
        }
        other => out.push(format!("{at}/style: {other:?} is not a button style")),
    }
}

fn check_select(c: &Value, at: &str, out: &mut Vec<String>) {
    if !c["custom_id"].is_string() {
        out.push(format!("{at}/custom_id: a select menu needs a custom_id"));
    }
    let placeholder = len(&c["placeholder"]);
    if placeholder > 150 {
        out.push(format!("{at}/placeholder: {placeholder} characters > 150"));
    }
    let min = c["min_values"].as_u64().unwrap_or(1);
    let max = c["max_values"].as_u64().unwrap_or(1);
    if min > max || max > 25 {
        out.push(format!(
            "{at}: min_values {min} / max_values {max} must satisfy min <= max <= 25"
        ));
    }
    if c["type"] != json!(3) {
        return;
    }
    let opts = c["options"].as_array().map_or(&[][..], Vec::as_slice);
    if !(1..=25).contains(&opts.len()) {
        out.push(format!("{at}/options: {} options, must be 1..=25", opts.len()));
    }
    if max as usize > opts.len() && !opts.is_empty() {
        out.push(format!("{at}/max_values: {max} > the {} options offered", opts.len()));
    }
    let mut values = HashSet::new();
    for (k, o) in opts.iter().enumerate() {
        let at = format!("{at}/options/{k}");
        for (field, min_len) in [("label", 1), ("value", 1), ("description", 0)] {
            let n = len(&o[field]);
            if n > 100 || n < min_len {
                out.push(format!("{at}/{field}: {n} characters, must be {min_len}..=100"));
            }
        }
        if !values.insert(o["value"].to_string()) {
            out.push(format!("{at}/value: duplicate option value {}", o["value"]));
        }
    }
    let defaults = opts.iter().filter(|o| o["default"] == json!(true)).count() as u64;
    if defaults > max {
        out.push(format!("{at}/options: {defaults} default options > max_values {max}"));
    }
}

/// Limits on an autocomplete result (`type` 8): at most 25 choices, names 1..=100 characters,
/// string values at most 100 characters.
pub fn check_autocomplete(data: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    match data["choices"].as_array() {
        Some(choices) => check_choices(choices, &format!("{at}/choices"), &mut out),
        None => out.push(format!(
            "{at}/choices: an autocomplete result needs a choices array (may be empty)"
        )),
    }
    out
}

fn check_choices(choices: &[Value], at: &str, out: &mut Vec<String>) {
    if choices.len() > 25 {
        out.push(format!("{at}: {} choices > 25", choices.len()));
    }
    for (i, ch) in choices.iter().enumerate() {
        let n = len(&ch["name"]);
        if !(1..=100).contains(&n) {
            out.push(format!("{at}/{i}/name: {n} characters, must be 1..=100"));
        }
        // The spec allows 6000; Discord documents (and enforces) 100 for string values.
        let v = len(&ch["value"]);
        if v > 100 {
            out.push(format!("{at}/{i}/value: {v} characters > 100"));
        }
    }
}

/// Limits on a modal (`type` 9): title 1..=45, custom_id 1..=100, 1..=5 rows.
pub fn check_modal(data: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    let title = len(&data["title"]);
    if !(1..=45).contains(&title) {
        out.push(format!("{at}/title: {title} characters, must be 1..=45"));
    }
    let id = len(&data["custom_id"]);
    if !(1..=100).contains(&id) {
        out.push(format!("{at}/custom_id: {id} characters, must be 1..=100"));
    }
    let rows = data["components"].as_array().map_or(0, Vec::len);
    if !(1..=5).contains(&rows) {
        out.push(format!("{at}/components: {rows} rows, must be 1..=5"));
    }
    out
}
