struct Opaque;

#[clnrm::test]
fn t() -> Result<(), Opaque> {
    Err(Opaque)
}

fn main() {}
