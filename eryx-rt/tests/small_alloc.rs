//! The guest runtime's small-object allocator (libs/runtime/src/small_alloc.rs) in a real sandbox:
//! it serves Python's objects, gives their memory back, and memory limits still end cleanly.

use eryx_rt::{Failure, Sandbox};

fn sandbox() -> Sandbox {
    Sandbox::builder().build().expect("the base sandbox builds")
}

#[test]
fn python_objects_come_from_the_pools_and_go_back() {
    let mut sandbox = sandbox();
    let out = sandbox
        .execute(
            "import _eryx_alloc\n\
             installed, pools, blocks, used, memory = _eryx_alloc.stats()\n\
             keep = [(i,) for i in range(20000)]\n\
             _, pools_full, blocks_full, used_full, _ = _eryx_alloc.stats()\n\
             del keep\n\
             _, _, blocks_after, _, _ = _eryx_alloc.stats()\n\
             print(installed, blocks_full - blocks >= 20000, blocks_full - blocks_after >= 20000)\n\
             print(pools_full > pools, used_full > used, memory >= pools_full * 4096)",
        )
        .unwrap();
    assert_eq!(out.stdout, "1 True True\nTrue True True\n");
}

#[test]
fn blocks_move_between_pools_and_the_libc_heap_intact() {
    // Strings grow by realloc through every size class and past the largest one, lists of
    // growing size do the same with their item arrays; the content must survive every move.
    let out = sandbox()
        .execute(
            "import hashlib\n\
             s = ''\n\
             for i in range(3000): s += chr(ord('a') + i % 26)\n\
             items = []\n\
             for i in range(3000): items.append(i * i)\n\
             b = bytearray()\n\
             for i in range(3000): b.append(i % 251)\n\
             while len(b) > 10: del b[len(b) // 2:]\n\
             print(hashlib.sha256(s.encode()).hexdigest()[:12], sum(items), len(s), bytes(b))",
        )
        .unwrap();
    let expected_sum: u64 = (0..3000u64).map(|i| i * i).sum();
    assert_eq!(out.stdout, format!("9c81a3212749 {expected_sum} 3000 b'\\x00\\x01\\x02\\x03\\x04'\n"));
}

#[test]
fn a_bomb_of_small_objects_ends_in_a_clean_memory_error() {
    let mut limited = Sandbox::builder().memory_limit(64 << 20).build().unwrap();
    // Only small objects (one-item tuples and small ints): every one comes from a pool, and new
    // pools from libc's heap, until the limit refuses to grow the memory.
    let error = limited.execute("x = []\nwhile True: x.append((len(x),))").unwrap_err();
    assert!(
        matches!(&error.failure, Failure::MemoryLimit { .. })
            || matches!(&error.failure, Failure::Python(e) if e.type_name == "MemoryError"),
        "{error}"
    );
    let mut fresh = sandbox();
    assert_eq!(fresh.execute("print(sum(i * i for i in range(1000)))").unwrap().stdout, "332833500\n");
}
