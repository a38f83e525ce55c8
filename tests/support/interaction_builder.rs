//! Builders of what Discord sends the bot, from what the bot registered and rendered, and
//! nothing else: the fake Discord (gateway) and any other transport (HTTP interactions) build
//! every interaction through these, so a test cannot hand the bot something no Discord client
//! could produce.
//!
//! - [`command_data`] / [`autocomplete_data`]: the `data` of an application command or
//!   autocomplete interaction, checked against the registered definitions (the bulk overwrite the
//!   bot sent, as echoed with ids): command, subcommand, option names, types, `required`,
//!   choices, min/max value and length, `autocomplete` and exactly one `focused` option.
//!   Options are given in Discord's wire shape (`[{ "name": ..., "value": ... }]`); a missing
//!   `type` is filled in from the definition.
//! - [`component_data`]: the `data` of a click, checked against the message clicked: the
//!   custom_id is on it, a button is not disabled, select values are among the offered ones
//!   and their count within min/max_values, an ephemeral message is clicked only by the user
//!   it was shown to.
//! - [`interaction_json`]: the INTERACTION_CREATE payload around such `data`.
//!
//! Every refusal is an `Err` naming the command and option (or the message and custom_id),
//! which the fake turns into a test failure.

use serde_json::{json, Map, Value};

use super::fake_discord::{FakeDiscord, FakeUser};

/// Interaction types.
pub const APPLICATION_COMMAND: u64 = 2;
pub const MESSAGE_COMPONENT: u64 = 3;
pub const AUTOCOMPLETE: u64 = 4;

const EPHEMERAL: u64 = 1 << 6;
/// Administrator: Discord shows every command to an administrator.
const ADMINISTRATOR: u64 = 1 << 3;

fn id_of(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

/// The registered chat-input command `name` (as `registered` holds them: guild commands first,
/// then global, as a guild member's client lists them).
pub fn find_command<'a>(registered: &'a [Value], name: &str) -> Result<&'a Value, String> {
    registered
        .iter()
        .find(|c| c["name"] == json!(name) && c["type"].as_u64().unwrap_or(1) == 1)
        .ok_or_else(|| {
            let names: Vec<&str> = registered.iter().filter_map(|c| c["name"].as_str()).collect();
            format!("/{name}: no such command is registered (registered: {names:?})")
        })
}

/// `data` of a slash command `name` with `options` (Discord's wire shape; `Null` = none), or
/// why Discord would never send it.
pub fn command_data(registered: &[Value], user: &FakeUser, name: &str, options: &Value) -> Result<Value, String> {
    application_command_data(registered, user, name, options, false)
}

/// `data` of an autocomplete request while `user` types in the option marked `"focused": true`.
pub fn autocomplete_data(registered: &[Value], user: &FakeUser, name: &str, options: &Value) -> Result<Value, String> {
    application_command_data(registered, user, name, options, true)
}

fn application_command_data(
    registered: &[Value],
    user: &FakeUser,
    name: &str,
    options: &Value,
    autocomplete: bool,
) -> Result<Value, String> {
    let def = find_command(registered, name)?;
    if let Some(required) = def["default_member_permissions"]
        .as_str()
        .and_then(|p| p.parse::<u64>().ok())
    {
        let has = user.permissions;
        if has & ADMINISTRATOR == 0 && has & required != required {
            return Err(format!(
                "/{name}: needs permissions {required:#x}, which {} ({has:#x}) lacks: Discord does not offer it",
                user.name
            ));
        }
    }
    let given = match options {
        Value::Null => Vec::new(),
        Value::Array(a) => a.clone(),
        other => return Err(format!("/{name}: options must be an array, not {other}")),
    };
    let declared = def["options"].as_array().cloned().unwrap_or_default();
    let mut focused = 0;
    let options = check_options(&format!("/{name}"), &declared, &given, autocomplete, &mut focused)?;
    if autocomplete && focused != 1 {
        return Err(format!(
            "/{name}: an autocomplete request has exactly one focused option, not {focused}"
        ));
    }
    let mut data = json!({
        "id": def["id"].clone(),
        "name": name,
        "type": 1,
        "options": options,
    });
    if let Some(g) = def.get("guild_id").filter(|g| !g.is_null()) {
        data["guild_id"] = g.clone();
    }
    Ok(data)
}

/// Checks `given` against the `declared` options at one level (`path` names it in errors) and
/// returns them normalised (types filled in). Subcommands and groups recurse.
fn check_options(
    path: &str,
    declared: &[Value],
    given: &[Value],
    autocomplete: bool,
    focused: &mut usize,
) -> Result<Vec<Value>, String> {
    let is_sub = |o: &Value| matches!(o["type"].as_u64(), Some(1 | 2));
    if declared.iter().any(is_sub) {
        // Discord sends exactly the one subcommand (or group) that was picked.
        let [one] = given else {
            let subs: Vec<&str> = declared.iter().filter_map(|o| o["name"].as_str()).collect();
            return Err(format!(
                "{path}: exactly one subcommand must be given, one of {subs:?} (got {} options)",
                given.len()
            ));
        };
        let sub_name = one["name"].as_str().unwrap_or_default();
        let Some(def) = declared.iter().find(|d| d["name"] == json!(sub_name)) else {
            let subs: Vec<&str> = declared.iter().filter_map(|o| o["name"].as_str()).collect();
            return Err(format!(
                "{path}: no subcommand {sub_name:?} is registered (registered: {subs:?})"
            ));
        };
        let kind = def["type"].as_u64().unwrap_or(1);
        if let Some(t) = one.get("type") {
            if t.as_u64() != Some(kind) {
                return Err(format!("{path} {sub_name}: type {t} given, {kind} registered"));
            }
        }
        if one.get("value").is_some() || one.get("focused").is_some() {
            return Err(format!("{path} {sub_name}: a subcommand carries no value"));
        }
        let inner_given = match one.get("options") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => return Err(format!("{path} {sub_name}: options must be an array, not {other}")),
        };
        let inner_declared = def["options"].as_array().cloned().unwrap_or_default();
        let inner = check_options(
            &format!("{path} {sub_name}"),
            &inner_declared,
            &inner_given,
            autocomplete,
            focused,
        )?;
        return Ok(vec![json!({ "type": kind, "name": sub_name, "options": inner })]);
    }
    let mut out = Vec::new();
    for o in given {
        let name = o["name"].as_str().unwrap_or_default();
        let Some(def) = declared.iter().find(|d| d["name"] == json!(name)) else {
            let names: Vec<&str> = declared.iter().filter_map(|d| d["name"].as_str()).collect();
            return Err(format!(
                "{path}: option {name:?} is not registered (registered: {names:?})"
            ));
        };
        if out.iter().any(|v: &Value| v["name"] == json!(name)) {
            return Err(format!("{path}: option {name:?} given twice"));
        }
        let kind = def["type"].as_u64().unwrap_or(0);
        if let Some(t) = o.get("type") {
            if t.as_u64() != Some(kind) {
                return Err(format!("{path}: option {name:?} has type {kind}, not {t}"));
            }
        }
        let value = o.get("value").cloned().unwrap_or(Value::Null);
        let is_focused = o.get("focused").and_then(Value::as_bool).unwrap_or(false);
        let mut normalised = Map::new();
        normalised.insert("type".into(), json!(kind));
        normalised.insert("name".into(), json!(name));
        if is_focused {
            if !autocomplete {
                return Err(format!(
                    "{path}: option {name:?}: only autocomplete requests have a focused option"
                ));
            }
            if def["autocomplete"] != json!(true) {
                return Err(format!(
                    "{path}: option {name:?} is not registered with autocomplete: Discord never asks for it"
                ));
            }
            // What the user typed so far is a string, whatever the option's type.
            let Some(typed) = value.as_str() else {
                return Err(format!(
                    "{path}: option {name:?}: the focused value is what was typed, a string"
                ));
            };
            if let Some(max) = def["max_length"].as_u64() {
                let n = typed.chars().count() as u64;
                if n > max {
                    return Err(format!(
                        "{path}: option {name:?}: {n} characters typed, the client stops at max_length {max}"
                    ));
                }
            }
            *focused += 1;
            normalised.insert("focused".into(), json!(true));
        } else if autocomplete {
            // Other options of a command being typed: name and type are checked, values may
            // still be partial.
            check_value_type(path, name, kind, &value)?;
        } else {
            check_value(path, name, kind, def, &value)?;
        }
        normalised.insert("value".into(), value);
        out.push(Value::Object(normalised));
    }
    if !autocomplete {
        for d in declared {
            let name = d["name"].as_str().unwrap_or_default();
            if d["required"] == json!(true) && !out.iter().any(|o| o["name"] == json!(name)) {
                return Err(format!("{path}: required option {name:?} is missing"));
            }
        }
    }
    Ok(out)
}

fn check_value_type(path: &str, name: &str, kind: u64, value: &Value) -> Result<(), String> {
    let ok = match kind {
        3 => value.is_string(),
        4 => value.as_i64().is_some(),
        10 => value.is_number(),
        5 => value.is_boolean(),
        6..=9 | 11 => value.as_str().is_some_and(|s| s.parse::<u64>().is_ok()),
        other => {
            return Err(format!(
                "{path}: option {name:?} has type {other}, which the fake does not know"
            ))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{path}: option {name:?} (type {kind}): value {value} has the wrong type"
        ))
    }
}

/// A submitted value: right type, among the choices, within min/max value and length.
fn check_value(path: &str, name: &str, kind: u64, def: &Value, value: &Value) -> Result<(), String> {
    check_value_type(path, name, kind, value)?;
    // An empty list is how serializers say "no choices" (free input).
    if let Some(choices) = def["choices"].as_array().filter(|c| !c.is_empty()) {
        if !choices.iter().any(|c| &c["value"] == value) {
            let offered: Vec<&Value> = choices.iter().map(|c| &c["value"]).collect();
            return Err(format!(
                "{path}: option {name:?}: value {value} is not among the registered choices {offered:?}"
            ));
        }
    }
    if let Some(s) = value.as_str().filter(|_| kind == 3) {
        let n = s.chars().count() as u64;
        if let Some(min) = def["min_length"].as_u64() {
            if n < min {
                return Err(format!("{path}: option {name:?}: {n} characters, min_length is {min}"));
            }
        }
        if let Some(max) = def["max_length"].as_u64() {
            if n > max {
                return Err(format!("{path}: option {name:?}: {n} characters, max_length is {max}"));
            }
        }
    }
    if let Some(x) = value.as_f64().filter(|_| matches!(kind, 4 | 10)) {
        if def["min_value"].as_f64().is_some_and(|min| x < min) {
            return Err(format!(
                "{path}: option {name:?}: {value} is below min_value {}",
                def["min_value"]
            ));
        }
        if def["max_value"].as_f64().is_some_and(|max| x > max) {
            return Err(format!(
                "{path}: option {name:?}: {value} is above max_value {}",
                def["max_value"]
            ));
        }
    }
    Ok(())
}

/// `data` of `user` clicking `custom_id` on `message` (a stored Message JSON): a button when
/// `values` is `None`, a string select with those values otherwise; or why Discord would
/// never send it.
pub fn component_data(
    message: &Value,
    user: &FakeUser,
    custom_id: &str,
    values: Option<&[String]>,
) -> Result<Value, String> {
    let msg_id = id_of(&message["id"]);
    let what = format!("message {msg_id}, custom_id {custom_id:?}");
    let flags = message["flags"].as_u64().unwrap_or(0);
    if flags & EPHEMERAL != 0 {
        let owner = id_of(&message["interaction_metadata"]["user"]["id"]);
        if owner != user.id {
            return Err(format!(
                "{what}: the message is ephemeral, shown only to user {owner}; {} ({}) cannot see it",
                user.name, user.id
            ));
        }
    }
    let mut found = None;
    walk_components(&message["components"], &mut |c| {
        if found.is_none() && c["custom_id"] == json!(custom_id) {
            found = Some(c.clone());
        }
    });
    let Some(component) = found else {
        let mut ids = Vec::new();
        walk_components(&message["components"], &mut |c| {
            if let Some(id) = c["custom_id"].as_str() {
                ids.push(id.to_string());
            }
        });
        return Err(format!(
            "{what}: not on the message (Discord only delivers custom_ids of components it shows; on it: {ids:?})"
        ));
    };
    if component["disabled"] == json!(true) {
        return Err(format!("{what}: the component is disabled and cannot be clicked"));
    }
    let kind = component["type"].as_u64().unwrap_or(0);
    match (kind, values) {
        (2, None) => Ok(json!({ "custom_id": custom_id, "component_type": 2 })),
        (2, Some(_)) => Err(format!("{what}: a button carries no values")),
        (3, None) => Err(format!("{what}: a select sends the values picked")),
        (3, Some(values)) => {
            let offered: Vec<&str> = component["options"]
                .as_array()
                .map(|o| o.iter().filter_map(|o| o["value"].as_str()).collect())
                .unwrap_or_default();
            for v in values {
                if !offered.contains(&v.as_str()) {
                    return Err(format!("{what}: value {v:?} is not offered (options: {offered:?})"));
                }
            }
            let mut unique = values.to_vec();
            unique.sort();
            unique.dedup();
            if unique.len() != values.len() {
                return Err(format!("{what}: a value is picked twice: {values:?}"));
            }
            let min = component["min_values"].as_u64().unwrap_or(1) as usize;
            let max = component["max_values"].as_u64().unwrap_or(1) as usize;
            if values.len() < min || values.len() > max {
                return Err(format!(
                    "{what}: {} values picked, the select allows {min} to {max}",
                    values.len()
                ));
            }
            Ok(json!({ "custom_id": custom_id, "component_type": 3, "values": values }))
        }
        (other, _) => Err(format!(
            "{what}: component type {other} is not clickable through the fake"
        )),
    }
}

fn walk_components(v: &Value, f: &mut impl FnMut(&Value)) {
    if let Some(items) = v.as_array() {
        for c in items {
            f(c);
            walk_components(&c["components"], f);
        }
    }
}

/// An INTERACTION_CREATE payload: a guild interaction by a member in [`FakeDiscord::CHANNEL_ID`],
/// with every field serenity 0.12.5 requires (and the ones Discord sends besides). `message` is
/// the clicked message for a component interaction.
pub fn interaction_json(
    id: u64,
    token: &str,
    kind: u64,
    user: &FakeUser,
    data: Value,
    message: Option<Value>,
) -> Value {
    let guild = FakeDiscord::GUILD_ID.to_string();
    let mut v = json!({
        "id": id.to_string(),
        "application_id": FakeDiscord::APP_ID.to_string(),
        "type": kind,
        "data": data,
        "guild_id": guild,
        "guild": { "id": guild, "locale": "en-US", "features": [] },
        "channel_id": FakeDiscord::CHANNEL_ID.to_string(),
        "channel": {
            "id": FakeDiscord::CHANNEL_ID.to_string(),
            "type": 0,
            "name": "general",
            "guild_id": guild,
            "permissions": user.permissions.to_string(),
            "nsfw": false,
            "position": 0,
            "flags": 0,
            "parent_id": null,
            "last_message_id": null,
            "rate_limit_per_user": 0,
            "topic": null,
        },
        "member": {
            "user": super::fake_discord::user_json(user),
            "nick": null,
            "avatar": null,
            "banner": null,
            "roles": [],
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "permissions": user.permissions.to_string(),
            "communication_disabled_until": null,
            "unusual_dm_activity_until": null,
        },
        "token": token,
        "version": 1,
        "app_permissions": "2248473465835073",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": { "0": guild },
        "context": 0,
        "attachment_size_limit": 10_485_760,
    });
    if let Some(m) = message {
        v["message"] = m;
    }
    v
}
