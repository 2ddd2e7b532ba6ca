//! `medsins._medsins`, the native part of the `medsins` Python package (see
//! `python/medsins/__init__.py`): the command line (`main`, behind the `medsins` console
//! script) and the reporting commands run in-process (`report`), with the GIL released while
//! they work.

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;

/// mimalloc, as in the `medsins` binary (docs/benchmarks.md): the build allocates heavily
/// from several threads. Allocation never affects the output bytes.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pyo3::create_exception!(
    _medsins,
    MedsinsError,
    PyException,
    "A medsins command failed; the message is the one `medsins` prints after `error:`."
);

/// Runs the command line `argv` (the program name first) and returns its exit code.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| medsins_cli::main(argv))
}

/// Runs a reporting command (`args` as on the command line, without the program name) and
/// returns its report as the JSON text `--format json` prints.
#[pyfunction]
fn report(py: Python<'_>, args: Vec<String>) -> PyResult<String> {
    match py.detach(|| medsins_cli::report(&args)) {
        Ok(value) => Ok(value.to_string()),
        Err(medsins_cli::ReportError::UnknownOption(m)) => Err(PyTypeError::new_err(m)),
        Err(medsins_cli::ReportError::Usage(m)) => Err(PyValueError::new_err(m)),
        Err(medsins_cli::ReportError::Failed(m)) => Err(MedsinsError::new_err(m)),
    }
}

#[pymodule]
fn _medsins(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add("MedsinsError", m.py().get_type::<MedsinsError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
