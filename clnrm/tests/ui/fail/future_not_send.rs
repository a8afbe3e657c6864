use std::rc::Rc;

async fn later() {}

#[clnrm::test]
async fn t() {
    let shared = Rc::new(1);
    later().await;
    assert_eq!(*shared, 1);
}

fn main() {}
