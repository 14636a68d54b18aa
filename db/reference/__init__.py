"""Reference data shipped with the SIS (published by outside authorities), inserted by migrations."""
