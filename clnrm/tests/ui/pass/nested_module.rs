#![forbid(unsafe_code)]
#![deny(warnings)]

mod api {
    pub(crate) mod users {
        #[clnrm::test(tags("api"))]
        pub(crate) async fn lists_users(ctx: clnrm::TestContext) {
            assert!(!ctx.name().is_empty());
        }

        #[clnrm::test]
        fn private_sync_test() {}
    }
}

fn main() {}
