//! `scimd admin create|reset-password|list`.

use crate::support::{Console, cli_with_stdin, new_admin};

backend_tests! {
    async fn admins_are_created_and_reset_from_the_command_line(srv: TestServer) {
        let generated = new_admin(&srv, "alice").await;
        assert_eq!(generated.len(), 20);
        let mut c = Console::new(&srv);
        c.sign_in("alice", &generated).await;

        let (ok, _, err) = cli_with_stdin(&srv, &["admin", "create", "bob", "--password-stdin"], "short\n").await;
        assert!(!ok && err.contains("at least 12"), "{err}");
        let (ok, out, err) = cli_with_stdin(&srv, &["admin", "create", "bob", "--password-stdin"], "a long enough secret\n").await;
        assert!(ok, "{out}{err}");
        assert!(!out.contains("Password"), "a given password is not printed: {out}");
        Console::new(&srv).sign_in("bob", "a long enough secret").await;
        let dup = srv.cli(&["admin", "create", "BOB"]).await;
        assert!(!dup.success && dup.stderr.contains("already exists"), "{}", dup.stderr);
        let bad = srv.cli(&["admin", "create", "has space"]).await;
        assert!(!bad.success, "{}", bad.stdout);

        // A reset ends the account's sessions.
        let out = srv.cli_ok(&["admin", "reset-password", "alice"]).await;
        let new_pw = out.lines().find_map(|l| l.trim().strip_prefix("Password:")).unwrap().trim().to_owned();
        assert_eq!(c.get("/console").await.status.as_u16(), 303, "the old session ended");
        assert_eq!(Console::new(&srv).try_sign_in("alice", &generated).await.status.as_u16(), 401);
        Console::new(&srv).sign_in("alice", &new_pw).await;
        let missing = srv.cli(&["admin", "reset-password", "nobody"]).await;
        assert!(!missing.success && missing.stderr.contains("no administrator"), "{}", missing.stderr);

        let list = srv.cli_ok(&["admin", "list"]).await;
        for name in ["admin", "alice", "bob"] {
            assert!(list.contains(name), "{list}");
        }
        assert!(!list.contains("argon2"), "hashes are never shown: {list}");
    }
}
