#[clnrm::test(services(db = postgres))]
async fn t(url: String) {
    let _ = url;
}

fn main() {}
