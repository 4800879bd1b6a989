-- Ferrite's scripting sandbox (Redis 7.0's rules), run once when a Lua VM is
-- created (see vm.rs). It receives `native` (functions written in Rust and the
-- private control table `ctl`) and the VM's kind ('eval' or 'function'), and
-- returns the runners Rust calls scripts through.
--
-- User code runs with `env` as its globals: a read-only view of the real
-- globals in which reading an unknown name is an error. Library tables are
-- read-only views too. `ctl.run` is set by Rust only while a script runs.
local native, kind = ...
local G = _G
local ctl = native.ctl
local raw_setmetatable, raw_getmetatable, raw_rawset = setmetatable, getmetatable, rawset
local raw_pcall, raw_xpcall = pcall, xpcall
local raw_loadstring, raw_getfenv, raw_setfenv = loadstring, getfenv, setfenv
local error, type, tostring, tonumber, select, unpack = error, type, tostring, tonumber, select, unpack
local floor = math.floor
local handler = native.handler

local protected = raw_setmetatable({}, {__mode = 'k'})
local function readonly() error('Attempt to modify a readonly table', 2) end
local locked = raw_setmetatable({}, {__newindex = readonly, __metatable = false})
protected[locked] = true

local function protect(t)
  local proxy = raw_setmetatable({}, {__index = t, __newindex = readonly, __metatable = locked})
  protected[proxy] = true
  return proxy
end

-- Redis's luaPushErrorBuff: an error table from "-CODE message" or "message".
local function error_table(text)
  local code, msg = 'ERR', text
  if text:sub(1, 1) == '-' then
    local space = text:find(' ', 1, true)
    if space then
      code, msg = text:sub(2, space - 1), text:sub(space + 1)
    else
      msg = text:sub(2)
    end
  end
  msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end

local function fail(text) error(error_table(text)) end

local function current(what)
  local run = ctl.run
  if run == nil then fail(what .. ' can only be called inside a script invocation') end
  return run
end

local redis = {}
-- redis.call/pcall are Rust functions (vm.rs): a C function keeps the
-- caller's frame even in `return redis.call(...)`, so errors name the line.
redis.call = native.call
redis.pcall = native.pcall
function redis.error_reply(...)
  local text = ...
  if select('#', ...) ~= 1 or type(text) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  if text:sub(1, 1) ~= '-' then text = '-' .. text end
  return error_table(text)
end
function redis.status_reply(...)
  local text = ...
  if select('#', ...) ~= 1 or type(text) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  return {ok = text}
end
function redis.sha1hex(...)
  if select('#', ...) ~= 1 then fail('wrong number of arguments') end
  return native.sha1hex(tostring((...)))
end
function redis.log(...)
  local argc = select('#', ...)
  if argc < 2 then fail('redis.log() requires two arguments or more.') end
  local level = ...
  if tonumber(level) == nil then fail('First argument must be a number (log level).') end
  level = tonumber(level)
  if level < 0 or level > 3 then fail('Invalid debug level.') end
  local parts = {}
  for i = 2, argc do
    local v = select(i, ...)
    if type(v) == 'string' or type(v) == 'number' then parts[#parts + 1] = tostring(v) end
  end
  native.log(level, table.concat(parts, ' '))
end
function redis.setresp(...)
  local run = current('redis.setresp')
  if select('#', ...) ~= 1 then fail('redis.setresp() requires one argument.') end
  local resp = tonumber((...))
  if resp ~= 2 and resp ~= 3 then fail('RESP version must be 2 or 3.') end
  run('setresp', resp)
end
function redis.set_repl(...)
  local run = current('redis.set_repl')
  if select('#', ...) ~= 1 then fail('redis.set_repl() requires two arguments.') end
  local flags = tonumber((...)) or 0
  if flags < 0 or flags > 3 or flags ~= floor(flags) then
    fail('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
  end
  run('set_repl', flags)
end
-- Whether the script's caller may run a command (Redis's
-- luaRedisAclCheckCmdPermissionsCommand); arguments as redis.call's.
function redis.acl_check_cmd(...)
  current('redis.acl_check_cmd')
  local allowed = native.acl_check(...)
  if type(allowed) == 'string' then fail(allowed) end
  return allowed
end
function redis.replicate_commands() return true end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = '7.0.15', 0x0007000f
if kind == 'eval' then
  function redis.breakpoint() return false end
  function redis.debug() end
end

-- math.random/randomseed on Redis's rand48 generator (deterministic seeding).
local function checkint(v, n, name)
  local x = tonumber(v)
  if x == nil then
    error("bad argument #" .. n .. " to '" .. name .. "' (number expected, got " .. type(v) .. ")", 3)
  end
  return x >= 0 and floor(x) or -floor(-x)
end
local math_random = function(...)
  current('math.random')
  local r = native.rand()
  local argc = select('#', ...)
  if argc == 0 then return r end
  if argc == 1 then
    local u = checkint((...), 1, 'random')
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  end
  if argc == 2 then
    local l, u = ...
    l, u = checkint(l, 1, 'random'), checkint(u, 2, 'random')
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 2)
end
local math_randomseed = function(seed)
  current('math.randomseed')
  native.srand(checkint(seed, 1, 'randomseed'))
end
raw_rawset(math, 'random', math_random)
raw_rawset(math, 'randomseed', math_randomseed)

-- pcall/xpcall never catch SCRIPT KILL, and hand a Redis error table's text
-- to the caller as pcall does in Redis.
local function pack(...) return {n = select('#', ...), ...} end
local function after_protected_call(r)
  if not r[1] and ctl.killed then error(r[2], 0) end
  if not r[1] and ctl.pending ~= nil then r[2] = ctl.pending; ctl.pending = nil end
  if not r[1] and type(r[2]) == 'table' and type(r[2].err) == 'string' then r[2] = r[2].err end
  return unpack(r, 1, r.n)
end
G.pcall = function(f, ...) return after_protected_call(pack(raw_pcall(f, ...))) end
G.xpcall = function(f, h)
  local r = pack(raw_xpcall(f, function(e)
    if ctl.killed then return e end
    if ctl.pending ~= nil then e = ctl.pending; ctl.pending = nil end
    return h(e)
  end))
  if not r[1] and ctl.killed then error(r[2], 0) end
  return unpack(r, 1, r.n)
end

-- Globals: user code sees `env`. While a library's code runs at FUNCTION
-- LOAD, `env` reads from `load_api` instead of the real globals (Redis swaps
-- the globals' __index the same way): only `redis.register_function`,
-- `redis.log` and the constants exist then, and anything else is a
-- nonexistent global, even when reached through the library's `redis`
-- table later (functions keep that table, not the library API).
local env_mt = {__index = G, __newindex = readonly, __metatable = locked}
local env = raw_setmetatable({}, env_mt)
protected[env] = true
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 0)
end
local load_api
if kind == 'function' then
  local load_redis = {log = redis.log, REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM}
  for _, level in ipairs({'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING'}) do load_redis[level] = redis[level] end
  function load_redis.register_function(...)
    local register = ctl.register
    if register == nil then fail('redis.register_function can only be called on FUNCTION LOAD command') end
    local err = register(...)
    if err ~= nil then error(err) end
  end
  load_api = protect(raw_setmetatable({redis = protect(raw_setmetatable(load_redis, {__index = missing}))}, {__index = missing}))
end

G.setmetatable = function(t, mt)
  if protected[t] then error('Attempt to modify a readonly table', 2) end
  return raw_setmetatable(t, mt)
end
G.rawset = function(t, k, v)
  if protected[t] then error('Attempt to modify a readonly table', 2) end
  return raw_rawset(t, k, v)
end
G.getfenv = function(f)
  local e
  if f == nil then e = raw_getfenv(2)
  elseif type(f) == 'number' and f > 0 then e = raw_getfenv(f + 1)
  else e = raw_getfenv(f) end
  if e == G then return env end
  return e
end
G.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
  local f, e = raw_loadstring(s, name)
  if f then raw_setfenv(f, env) end
  return f, e
end
G.load = function(reader, name)
  local pieces = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then break end
    pieces[#pieces + 1] = piece
  end
  return G.loadstring(table.concat(pieces), name)
end
G.dofile, G.loadfile, G.print, G.module, G.require = nil, nil, nil, nil, nil

G.redis = redis
for name, lib in pairs(native.libs) do G[name] = lib end
raw_getmetatable('').__metatable = locked
for _, name in ipairs({'string', 'math', 'table', 'coroutine', 'redis', 'cjson', 'bit', 'struct', 'cmsgpack'}) do
  G[name] = protect(G[name])
end
G._G = env
raw_setmetatable(G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 0)
  end,
  __metatable = locked,
})

return {
  env = env,
  loading = load_api and function(on) env_mt.__index = on and load_api or G end,
  eval = function(f) return raw_xpcall(f, handler) end,
  fcall = function(f, keys, args) return raw_xpcall(function() return f(keys, args) end, handler) end,
}
