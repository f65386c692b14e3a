//! Prints the pages of the PDF named on the command line, as Ream charges them, or why
//! they cannot be counted: the counter as a whole process, to compare with other tools
//! (`scripts/bench-pagecount`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: pagecount FILE.pdf");
        return ExitCode::from(2);
    };
    let counted = std::fs::File::open(&path)
        .map_err(|e| format!("cannot open it: {e}"))
        .and_then(|file| ream_print::pdf::page_count(&file));
    match counted {
        Ok(pages) => {
            println!("{pages}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("{}: {why}", path.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
