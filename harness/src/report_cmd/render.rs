//! `harness report render`: a saved report.json written again in other formats.

use crate::cli::RenderArgs;
use crate::exit::Exit;
use crate::report::Format;
use crate::report::model::Report;
use crate::report::writer::write_all;

pub fn render(args: &RenderArgs) -> Exit {
    let report = match Report::read(&args.file) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("harness report render: {error}");
            return Exit::Usage;
        }
    };
    let formats = if args.formats.is_empty() {
        vec![Format::Junit, Format::Markdown, Format::Html]
    } else {
        args.formats.clone()
    };
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => args
            .file
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default(),
    };
    match write_all(&report, &dir, &formats) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            Exit::Ok
        }
        Err(error) => {
            eprintln!("harness report render: {error:#}");
            Exit::Broken
        }
    }
}
