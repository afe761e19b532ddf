;; wasm64 (memory64) fixture: every address and size argument of the System API is i64.
;; Keeps a counter in a non-exported mutable global AND in the heap above 64 KiB, and a
;; copy in stable memory across upgrades. `call` exercises i64 callback closures.
(module
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i64)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i64 i64 i64)))
  (import "ic0" "msg_reply_data_append" (func $reply_append (param i64 i64)))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reject" (func $reject (param i64 i64)))
  (import "ic0" "msg_caller_size" (func $caller_size (result i64)))
  (import "ic0" "msg_caller_copy" (func $caller_copy (param i64 i64 i64)))
  (import "ic0" "stable64_size" (func $stable_size (result i64)))
  (import "ic0" "stable64_grow" (func $stable_grow (param i64) (result i64)))
  (import "ic0" "stable64_write" (func $stable_write (param i64 i64 i64)))
  (import "ic0" "stable64_read" (func $stable_read (param i64 i64 i64)))
  (import "ic0" "canister_cycle_balance128" (func $balance (param i64)))
  (import "ic0" "debug_print" (func $print (param i64 i64)))
  (import "ic0" "call_new" (func $call_new (param i64 i64 i64 i64 i64 i64 i64 i64)))
  (import "ic0" "call_data_append" (func $call_data (param i64 i64)))
  (import "ic0" "call_perform" (func $call_perform (result i32)))
  (import "ic0" "trap" (func $trap (param i64 i64)))

  (memory i64 1)
  (table 2 funcref)
  (elem (i32.const 0) $on_reply $on_reject)
  (global $count (mut i64) (i64.const 0))
  (data (i64.const 16) "wasm64 says hi")
  (data (i64.const 32) "get")
  (data (i64.const 48) "trap requested")

  ;; The heap copy of the counter lives at 70000, beyond the first 64 KiB page.
  (func (export "canister_init")
    (drop (memory.grow (i64.const 1)))
    (call $print (i64.const 16) (i64.const 14)))

  (func $reply_count
    (i64.store (i64.const 70000) (global.get $count))
    (call $reply_append (i64.const 70000) (i64.const 8))
    (call $reply))

  (func (export "canister_update inc")
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (call $reply_count))

  ;; Answers from the heap copy, so a lost heap page shows even when the global survives.
  (func (export "canister_query get")
    (call $reply_append (i64.const 70000) (i64.const 8))
    (call $reply))

  (func (export "canister_query global")
    (call $reply_count))

  (func (export "canister_query balance")
    (call $balance (i64.const 200))
    (call $reply_append (i64.const 200) (i64.const 16))
    (call $reply))

  (func (export "canister_query whoami")
    (call $caller_copy (i64.const 300) (i64.const 0) (call $caller_size))
    (call $reply_append (i64.const 300) (call $caller_size))
    (call $reply))

  ;; Echoes the argument after a round trip through stable memory at offset 128 MiB - 64.
  (func (export "canister_update stable_echo")
    (if (i64.eq (call $stable_size) (i64.const 0))
      (then (drop (call $stable_grow (i64.const 2048)))))
    (call $arg_copy (i64.const 400) (i64.const 0) (call $arg_size))
    (call $stable_write (i64.const 134217664) (i64.const 400) (call $arg_size))
    (call $stable_read (i64.const 500) (i64.const 134217664) (call $arg_size))
    (call $reply_append (i64.const 500) (call $arg_size))
    (call $reply))

  (func (export "canister_pre_upgrade")
    (if (i64.eq (call $stable_size) (i64.const 0))
      (then (drop (call $stable_grow (i64.const 1)))))
    (i64.store (i64.const 600) (global.get $count))
    (call $stable_write (i64.const 0) (i64.const 600) (i64.const 8)))

  (func (export "canister_post_upgrade")
    (drop (memory.grow (i64.const 1)))
    (call $stable_read (i64.const 600) (i64.const 0) (i64.const 8))
    (global.set $count (i64.load (i64.const 600)))
    (i64.store (i64.const 70000) (global.get $count)))

  ;; Calls method "get" on the canister whose id is the argument; callbacks get env 77/78.
  (func (export "canister_update call")
    (call $arg_copy (i64.const 700) (i64.const 0) (call $arg_size))
    (call $call_new (i64.const 700) (call $arg_size) (i64.const 32) (i64.const 3)
                    (i64.const 0) (i64.const 77) (i64.const 1) (i64.const 78))
    (call $call_data (i64.const 16) (i64.const 6))
    (drop (call $call_perform)))

  ;; Reply callback: replies with env (8 bytes) followed by the callee's reply.
  (func $on_reply (param $env i64)
    (i64.store (i64.const 800) (local.get $env))
    (call $reply_append (i64.const 800) (i64.const 8))
    (call $reply))

  (func $on_reject (param $env i64)
    (call $reject (i64.const 48) (i64.const 14)))

  (func (export "canister_update trap")
    (global.set $count (i64.const 999))
    (i64.store (i64.const 70000) (i64.const 999))
    (call $trap (i64.const 48) (i64.const 14)))
)
