//! Embeds GraphiQL (served at `/graphiql`) from the npm packages pinned in `package-lock.json`, so
//! the IDE works with no network: `make setup-npm` (`npm ci`) installs them before any build. Also
//! rebuilds the crate when a migration is added.

use std::path::PathBuf;

/// (environment variable naming the file for `include_bytes!`, path under `node_modules`).
const ASSETS: [(&str, &str); 4] = [
    ("SOIL_GRAPHIQL_REACT", "react/umd/react.production.min.js"),
    (
        "SOIL_GRAPHIQL_REACT_DOM",
        "react-dom/umd/react-dom.production.min.js",
    ),
    ("SOIL_GRAPHIQL_JS", "graphiql/graphiql.min.js"),
    ("SOIL_GRAPHIQL_CSS", "graphiql/graphiql.min.css"),
];

fn main() {
    // `sqlx::migrate!` embeds the migrations; a build script that names what it reads turns off
    // cargo's rerun-on-any-change, so a new migration file would otherwise not be embedded.
    println!("cargo:rerun-if-changed=migrations");
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let node_modules = PathBuf::from(manifest).join("../node_modules");
    for (variable, relative) in ASSETS {
        let path = node_modules.join(relative);
        assert!(
            path.is_file(),
            "GraphiQL's asset {} is missing: run `make setup-npm` (npm ci) at the repository root first; \
             the indexer embeds GraphiQL from the npm packages pinned in package-lock.json",
            path.display()
        );
        println!("cargo:rerun-if-changed={}", path.display());
        println!("cargo:rustc-env={variable}={}", path.display());
    }
}
