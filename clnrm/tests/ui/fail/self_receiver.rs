struct Suite;

impl Suite {
    #[clnrm::test]
    async fn t(&self) {}
}

fn main() {
    let _ = Suite;
}
