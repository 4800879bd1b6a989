//! Redis 7.0 functions: libraries loaded with FUNCTION LOAD (`#!lua
//! name=<lib>` then code that calls `redis.register_function`), kept in
//! their own Lua VM, and the functions FCALL finds by name.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Function, HookTriggers, MultiValue, Table, Value, VmState};

use super::convert::script_error_table;
use super::eval::ScriptFlags;
use super::vm::{error_message, Vm, VmKind};

/// How long a library's code may run while loading (Redis's LOAD_TIMEOUT_MS).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// A registered function.
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    pub function: Function,
}

/// A loaded library: its source (what FUNCTION LIST WITHCODE and DUMP give
/// back) and its functions by name.
pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// The functions VM and the loaded libraries. Library names are compared
/// exactly and function names case-insensitively, as Redis's dictionaries
/// compare them (FCALL finds `TEST` by `test`).
pub struct FunctionEngine {
    pub vm: Vm,
    libraries: BTreeMap<String, Library>,
    /// Lowercased function name to (its library, its name as registered).
    owners: HashMap<String, (String, String)>,
}

impl FunctionEngine {
    pub fn new() -> mlua::Result<FunctionEngine> {
        Ok(FunctionEngine {
            vm: Vm::new(VmKind::Functions)?,
            libraries: BTreeMap::new(),
            owners: HashMap::new(),
        })
    }

    /// A fresh engine holding the libraries of `codes` (an RDB file's, or
    /// FUNCTION RESTORE FLUSH's payload).
    pub fn with_libraries(codes: Vec<Bytes>) -> Result<FunctionEngine, String> {
        let mut engine =
            FunctionEngine::new().map_err(|e| format!("Failed to create the Lua engine: {e}"))?;
        engine.add_libraries(codes, false)?;
        Ok(engine)
    }

    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    /// Every library's code, what FUNCTION DUMP and RDB files hold.
    pub fn library_codes(&self) -> Vec<Bytes> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }

    pub fn function_count(&self) -> usize {
        self.owners.len()
    }

    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    pub fn function(&self, name: &[u8]) -> Option<&FunctionInfo> {
        let name = std::str::from_utf8(name).ok()?;
        let (library, registered) = self.owners.get(&name.to_lowercase())?;
        self.libraries.get(library)?.functions.get(registered)
    }

    /// FUNCTION DELETE.
    pub fn delete(&mut self, name: &[u8]) -> bool {
        let name = String::from_utf8_lossy(name);
        match self.libraries.remove(name.as_ref()) {
            Some(library) => {
                for function in library.functions.keys() {
                    self.owners.remove(&function.to_lowercase());
                }
                true
            }
            None => false,
        }
    }

    /// FUNCTION LOAD: the library's name, or the error text (without its
    /// `ERR ` code).
    pub fn load(&mut self, code: &Bytes, replace: bool) -> Result<String, String> {
        let (name, body_start) = parse_metadata(code)?;
        if self.libraries.contains_key(&name) && !replace {
            return Err(format!("Library '{name}' already exists"));
        }
        let library = self.create(name.clone(), code, body_start)?;
        self.link(BTreeMap::from([(name.clone(), library)]), replace)?;
        Ok(name)
    }

    /// FUNCTION RESTORE and RDB loading: adds the libraries of `codes`, all
    /// of them or (on the first error) none. An existing library of the
    /// same name is replaced with `replace`, else refused, as Redis's
    /// `libraryJoin`; a function name another library holds is refused.
    /// A library named twice in `codes` is refused too (Redis's RDB loader
    /// with MERGE would keep the last one; its FUNCTION RESTORE refuses it).
    pub fn add_libraries(&mut self, codes: Vec<Bytes>, replace: bool) -> Result<(), String> {
        let mut staged = BTreeMap::new();
        let mut functions = HashSet::new();
        for code in codes {
            let (name, body_start) = parse_metadata(&code)?;
            if staged.contains_key(&name) {
                return Err(format!("Library '{name}' already exists"));
            }
            let library = self.create(name.clone(), &code, body_start)?;
            for function in library.functions.keys() {
                if !functions.insert(function.to_lowercase()) {
                    return Err(format!("Function {function} already exists"));
                }
            }
            staged.insert(name, library);
        }
        self.link(staged, replace)
    }

    /// Compiles and runs a library's code (its metadata already read).
    fn create(&self, name: String, code: &Bytes, body_start: usize) -> Result<Library, String> {
        let chunk = self
            .vm
            .compile(&code[body_start..], "@user_function")
            .map_err(|e| format!("Error compiling function: {e}"))?;
        let functions = self.register(&chunk)?;
        if functions.is_empty() {
            return Err("No functions registered".to_string());
        }
        Ok(Library {
            name,
            code: code.clone(),
            functions,
        })
    }

    /// Makes `staged` (compiled libraries whose function names do not
    /// collide among themselves) the engine's, or changes nothing.
    fn link(&mut self, staged: BTreeMap<String, Library>, replace: bool) -> Result<(), String> {
        if !replace {
            if let Some(name) = staged.keys().find(|n| self.libraries.contains_key(*n)) {
                return Err(format!("Library {name} already exists"));
            }
        }
        for library in staged.values() {
            for function in library.functions.keys() {
                let owner = self.owners.get(&function.to_lowercase());
                if owner.is_some_and(|(owner, _)| !staged.contains_key(owner)) {
                    return Err(format!("Function {function} already exists"));
                }
            }
        }
        for (name, library) in staged {
            self.delete(name.as_bytes());
            for function in library.functions.keys() {
                self.owners
                    .insert(function.to_lowercase(), (name.clone(), function.clone()));
            }
            self.libraries.insert(name, library);
        }
        Ok(())
    }

    fn set_loading(&self, on: bool) -> mlua::Result<()> {
        match &self.vm.loading {
            Some(loading) => loading.call(on),
            None => Ok(()),
        }
    }

    /// Runs a library's code with `redis.register_function` live, under the
    /// load timeout, and returns what it registered.
    fn register(&self, chunk: &Function) -> Result<BTreeMap<String, FunctionInfo>, String> {
        let lua = &self.vm.lua;
        let registered = RefCell::new(BTreeMap::new());
        let started = Instant::now();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(100_000),
            move |_, _| {
                if started.elapsed() > LOAD_TIMEOUT {
                    return Err(mlua::Error::runtime("FUNCTION LOAD timeout"));
                }
                Ok(VmState::Continue)
            },
        );
        let outcome = lua.scope(|scope| {
            let register =
                scope.create_function(|lua, args: MultiValue| match read_registration(args) {
                    Ok(info) => {
                        let mut registered = registered.borrow_mut();
                        if registered.contains_key(&info.name) {
                            return script_error_table(
                                lua,
                                "Function already exists in the library",
                            );
                        }
                        registered.insert(info.name.clone(), info);
                        Ok(Value::Nil)
                    }
                    Err(message) => script_error_table(lua, &message),
                })?;
            self.vm.ctl.raw_set("register", register)?;
            self.set_loading(true)?;
            let result = self.vm.run_eval.call::<(bool, Value)>(chunk.clone());
            self.set_loading(false)?;
            self.vm.ctl.raw_set("register", Value::Nil)?;
            result
        });
        lua.remove_hook();
        match outcome {
            Ok((true, _)) => Ok(registered.into_inner()),
            Ok((false, error)) => {
                let message = match &error {
                    Value::Table(t) => t.raw_get::<String>("err").unwrap_or_default(),
                    _ => "ERR unknown error".to_string(),
                };
                Err(format!("Error registering functions: {message}"))
            }
            Err(e) => Err(format!(
                "Error registering functions: {}",
                error_message(&e)
            )),
        }
    }
}

/// `#!lua name=<lib>`: the library name and where the code starts (its
/// first line feed, kept so line numbers match).
fn parse_metadata(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".to_string());
    }
    let end = code
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| "Invalid library metadata".to_string())?;
    let parts = ferrite_resp::split_args(&code[..end])
        .filter(|parts| !parts.is_empty())
        .ok_or_else(|| "Invalid library metadata".to_string())?;
    let engine = String::from_utf8_lossy(&parts[0][2..]).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        let part = String::from_utf8_lossy(part);
        match part.get(..5) {
            Some(prefix) if prefix.eq_ignore_ascii_case("name=") => {
                if name.is_some() {
                    return Err(
                        "Invalid metadata value, name argument was given multiple times"
                            .to_string(),
                    );
                }
                name = Some(part[5..].to_string());
            }
            _ => return Err(format!("Invalid metadata value given: {part}")),
        }
    }
    let name = name.ok_or_else(|| "Library name was not given".to_string())?;
    if !valid_name(&name) {
        return Err(BAD_NAME.to_string());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    Ok((name, end))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The arguments of `redis.register_function(name, callback)` or
/// `redis.register_function{function_name=..., callback=..., flags=...,
/// description=...}`, checked as Redis checks them.
fn read_registration(args: MultiValue) -> Result<FunctionInfo, String> {
    let args: Vec<Value> = args.into_iter().collect();
    let (name, description, flags, function) = match args.as_slice() {
        [Value::Table(named)] => read_named(named)?,
        [_] => return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".to_string()),
        [name, function] => {
            let name = as_text(name)
                .ok_or("first argument to redis.register_function must be a string")?;
            let Value::Function(function) = function else {
                return Err("second argument to redis.register_function must be a function".to_string());
            };
            (name, None, ScriptFlags::default(), function.clone())
        }
        _ => return Err("wrong number of arguments to redis.register_function".to_string()),
    };
    if !valid_name(&name) {
        return Err(BAD_NAME.to_string());
    }
    Ok(FunctionInfo {
        name,
        description,
        flags,
        function,
    })
}

type Registration = (String, Option<String>, ScriptFlags, Function);

fn read_named(named: &Table) -> Result<Registration, String> {
    let mut name = None;
    let mut description = None;
    let mut flags = ScriptFlags::default();
    let mut callback = None;
    for pair in named.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| error_message(&e))?;
        let key = as_text(&key)
            .ok_or("named argument key given to redis.register_function is not a string")?;
        match key.to_ascii_lowercase().as_str() {
            "function_name" => {
                name = Some(as_text(&value).ok_or(
                    "function_name argument given to redis.register_function must be a string",
                )?)
            }
            "description" => {
                description = Some(as_text(&value).ok_or(
                    "description argument given to redis.register_function must be a string",
                )?)
            }
            "callback" => match value {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return Err(
                        "callback argument given to redis.register_function must be a function"
                            .to_string(),
                    )
                }
            },
            "flags" => {
                let Value::Table(list) = value else {
                    return Err("flags argument to redis.register_function must be a table representing function flags".to_string());
                };
                for flag in list.sequence_values::<Value>() {
                    let flag = flag
                        .ok()
                        .as_ref()
                        .and_then(as_text)
                        .ok_or("unknown flag given")?;
                    if !flags.set(&flag.to_ascii_lowercase()) {
                        return Err("unknown flag given".to_string());
                    }
                }
            }
            _ => return Err("unknown argument given to redis.register_function".to_string()),
        }
    }
    let name = name.ok_or("redis.register_function must get a function name argument")?;
    let callback = callback.ok_or("redis.register_function must get a callback argument")?;
    Ok((name, description, flags, callback))
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_string_lossy()),
        Value::Number(n) => Some(super::convert::lua_number_text(*n)),
        Value::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_checked_as_redis_does() {
        assert_eq!(
            parse_metadata(b"#!lua name=lib1\nx").unwrap(),
            ("lib1".to_string(), 15)
        );
        assert_eq!(
            parse_metadata(b"return 1"),
            Err("Missing library metadata".to_string())
        );
        assert_eq!(
            parse_metadata(b"#!lua\nx"),
            Err("Library name was not given".to_string())
        );
        assert_eq!(
            parse_metadata(b"#!bad name=x\nx"),
            Err("Engine 'bad' not found".to_string())
        );
        assert_eq!(
            parse_metadata(b"#!lua name=a-b\nx"),
            Err(BAD_NAME.to_string())
        );
    }

    #[test]
    fn libraries_register_and_replace_functions() {
        let mut engine = FunctionEngine::new().unwrap();
        let code = Bytes::from_static(
            b"#!lua name=lib\nredis.register_function('f1', function() return 1 end)",
        );
        assert_eq!(engine.load(&code, false), Ok("lib".to_string()));
        assert!(engine.function(b"f1").is_some());
        assert_eq!(
            engine.load(&code, false),
            Err("Library 'lib' already exists".to_string())
        );
        assert_eq!(engine.load(&code, true), Ok("lib".to_string()));
        let other = Bytes::from_static(
            b"#!lua name=other\nredis.register_function('f1', function() return 1 end)",
        );
        assert_eq!(
            engine.load(&other, false),
            Err("Function f1 already exists".to_string())
        );
        assert!(engine.delete(b"lib"));
        assert!(engine.function(b"f1").is_none());
    }

    fn library(name: &str, functions: &[&str]) -> Bytes {
        let mut code = format!("#!lua name={name}\n");
        for f in functions {
            code.push_str(&format!(
                "redis.register_function('{f}', function() return '{name}' end)\n"
            ));
        }
        Bytes::from(code)
    }

    #[test]
    fn functions_are_found_case_insensitively_and_collide_so() {
        let mut engine = FunctionEngine::new().unwrap();
        engine.load(&library("lib", &["Hello"]), false).unwrap();
        assert!(engine.function(b"hELLO").is_some());
        assert_eq!(
            engine.load(&library("other", &["HELLO"]), false),
            Err("Function HELLO already exists".to_string())
        );
        assert_eq!(
            engine.load(
                &Bytes::from_static(
                    b"#!LUA name=upper\nredis.register_function('u', function() end)"
                ),
                false
            ),
            Ok("upper".to_string())
        );
    }

    #[test]
    fn added_libraries_go_in_all_together_or_not_at_all() {
        let mut engine = FunctionEngine::new().unwrap();
        engine.load(&library("a", &["fa"]), false).unwrap();
        engine.load(&library("b", &["fb"]), false).unwrap();
        // APPEND: an existing library name refuses the whole batch.
        let batch = vec![library("c", &["fc"]), library("a", &["fa2"])];
        assert_eq!(
            engine.add_libraries(batch.clone(), false),
            Err("Library a already exists".to_string())
        );
        assert!(engine.function(b"fc").is_none());
        // REPLACE: `a` is replaced, but a function another library keeps
        // still refuses it.
        assert_eq!(
            engine.add_libraries(vec![library("a", &["fb"])], true),
            Err("Function fb already exists".to_string())
        );
        assert!(engine.function(b"fa").is_some());
        engine.add_libraries(batch, true).unwrap();
        assert!(engine.function(b"fa").is_none());
        assert!(engine.function(b"fa2").is_some() && engine.function(b"fc").is_some());
        assert_eq!(engine.library_count(), 3);
        assert_eq!(
            engine.add_libraries(vec![library("d", &["x"]), library("d", &["y"])], false),
            Err("Library 'd' already exists".to_string())
        );
    }

    #[test]
    fn load_time_code_sees_only_the_library_api() {
        let mut engine = FunctionEngine::new().unwrap();
        let attempt = |engine: &mut FunctionEngine, body: &str| {
            let code = format!("#!lua name=t\n{body}\nredis.register_function('t', function() return redis.call('ping') end)");
            engine.load(&Bytes::from(code), true)
        };
        assert_eq!(
            attempt(&mut engine, "redis.call('ping')"),
            Err("Error registering functions: ERR Script attempted to access nonexistent global variable 'call'".to_string())
        );
        assert_eq!(
            attempt(&mut engine, "local t = table"),
            Err("Error registering functions: ERR Script attempted to access nonexistent global variable 'table'".to_string())
        );
        assert_eq!(
            attempt(
                &mut engine,
                "redis.log(redis.LOG_NOTICE, redis.REDIS_VERSION)"
            ),
            Ok("t".to_string())
        );
        // Afterwards the functions run with the full API, without the registrar.
        let globals = engine.vm.env.clone();
        let redis: Table = globals.get("redis").unwrap();
        assert!(redis.get::<Value>("register_function").unwrap().is_nil());
        assert!(redis.get::<Value>("call").unwrap().is_function());
    }
}
