//! The router's OpenAPI document (`GET /v1/openapi.json`) against the router that serves it: it parses as
//! OpenAPI 3.1, it describes every `/v1` route the router registers and no other, and real answers
//! validate against the schemas it gives for them.

mod common;

use common::{account, add_site, call, start, Got};
use meson_api::ledger::{AccountView, Minted};
use meson_testkit::json_request;
use serde_json::{json, Value};

/// The OpenAPI 3.1 format's own schema (`https://spec.openapis.org/oas/3.1/schema/2022-10-07`, from the
/// OpenAPI Initiative, Apache-2.0; the copy schemathesis ships).
const OAS_31: &str = include_str!("data/openapi-3.1-schema.json");

/// The schema the document gives for `method path` answering `got.status`, as a JSON Schema document
/// whose `$ref`s into `#/components` resolve.
fn response_schema(doc: &Value, method: &str, path: &str, got: &Got) -> Value {
    let response = &doc["paths"][path][method]["responses"][got.status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} answered {}, which the document does not list: {:?}",
        got.status,
        got.json()
    );
    let mut schema = response["content"]["application/json"]["schema"].clone();
    assert!(
        schema.is_object(),
        "{method} {path} {}: no JSON schema",
        got.status
    );
    schema["components"] = doc["components"].clone();
    schema
}

/// Asserts that `got`, the answer to `method path` (`path` as the document spells it), is one the
/// document allows.
fn check(doc: &Value, method: &str, path: &str, got: &Got) {
    let schema = response_schema(doc, method, path, got);
    let validator = jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|e| panic!("{method} {path} {}: bad schema: {e}", got.status));
    let body = got.json();
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {}: {body} does not match its schema: {errors:?}",
        got.status
    );
}

#[tokio::test]
async fn the_document_describes_every_route_and_real_answers_match_it() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |_| {}).await;
    let a = router.addr;
    let got = call(a, "GET", "/v1/openapi.json", &[], None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), "application/json");
    let doc = got.json();

    // It is an OpenAPI 3.1 document: valid against the OpenAPI Initiative's schema of the format.
    assert_eq!(doc["openapi"], "3.1.0");
    let oas =
        jsonschema::draft202012::new(&serde_json::from_str::<Value>(OAS_31).unwrap()).unwrap();
    let errors: Vec<String> = oas.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "not an OpenAPI 3.1 document: {errors:?}");
    let mut headless = doc.clone();
    headless.as_object_mut().unwrap().remove("info");
    assert!(
        !oas.is_valid(&headless),
        "the format's schema is not checked"
    );

    // Every route the router registers is described, and nothing else is.
    let routes = meson_router::api_routes();
    assert!(routes.len() > 30, "{routes:?}");
    let mut described = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let served = routes
                .iter()
                .any(|(m, p)| p == path && m.as_str().eq_ignore_ascii_case(method));
            assert!(
                served,
                "the document describes {method} {path}, which is not served"
            );
            assert!(op["responses"].is_object(), "{method} {path}: no responses");
            described += 1;
        }
    }
    for (method, path) in &routes {
        let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{method} {path} is served but not in the document"
        );
    }
    assert_eq!(described, routes.len());

    // Who may call what: the operator's operations need its token and are tagged so; an account's need
    // its API key; every refusal is an ErrorBody.
    let schemes = &doc["components"]["securitySchemes"];
    for scheme in ["api_key", "operator"] {
        assert_eq!(schemes[scheme]["scheme"], "bearer", "{scheme}");
    }
    let op = |method: &str, path: &str| doc["paths"][path][method].clone();
    for (method, path) in [
        ("post", "/v1/ledger/mint"),
        ("post", "/v1/ledger/slash"),
        ("post", "/v1/ledger/correct"),
    ] {
        let o = op(method, path);
        assert_eq!(o["security"], json!([{"operator": []}]), "{path}");
        assert!(
            o["tags"].as_array().unwrap().contains(&json!("operator")),
            "{path}"
        );
        assert!(o["responses"]["401"].is_object(), "{path}");
    }
    assert_eq!(
        op("post", "/v1/sites")["security"],
        json!([{"api_key": []}])
    );
    assert_eq!(op("get", "/v1/ledger/head")["security"], Value::Null);
    let heartbeat = &op("post", "/v1/terminals/heartbeat")["responses"];
    for status in ["200", "401", "403", "409", "503"] {
        assert!(heartbeat[status].is_object(), "heartbeat {status}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, o) in item.as_object().unwrap() {
            for (status, r) in o["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }

    // Real answers, successes and refusals, match their schemas.
    for path in [
        "/v1/router",
        "/v1/ledger/head",
        "/v1/council/term",
        "/v1/terminals",
    ] {
        check(&doc, "get", path, &call(a, "GET", path, &[], None).await);
    }
    let key = account(a).await;
    let site = add_site(a, &key, "a.example", "sort").await;
    assert_eq!(site.status, 201);
    check(&doc, "post", "/v1/sites", &site);
    let taken = add_site(a, &key, "a.example", "sort").await;
    assert_eq!(taken.status, 409);
    check(&doc, "post", "/v1/sites", &taken);
    let as_owner = |path: &'static str| json_request(a, Some(&key), "GET", path, None);
    let sites = as_owner("/v1/sites").await;
    check(&doc, "get", "/v1/sites", &sites);
    let stats = as_owner("/v1/sites/a.example/stats?hours=2").await;
    assert_eq!(stats.status, 200);
    check(&doc, "get", "/v1/sites/{host}/stats", &stats);
    let bad_hours = as_owner("/v1/sites/a.example/stats?hours=many").await;
    assert_eq!(bad_hours.status, 400);
    check(&doc, "get", "/v1/sites/{host}/stats", &bad_hours);

    let token = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    let token = token.trim();
    let owner = meson_core::identity::NodeKey::from_secret_bytes([9; 32]).id();
    let minted = json_request(
        a,
        Some(token),
        "POST",
        "/v1/ledger/mint",
        Some(json!({"id": "77", "owner": owner, "amount": "2.5"})),
    )
    .await;
    assert_eq!(minted.status, 200, "{:?}", minted.json());
    check(&doc, "post", "/v1/ledger/mint", &minted);
    let minted: Minted = minted.parse();
    let not_operator = json_request(
        a,
        Some(&key),
        "POST",
        "/v1/ledger/mint",
        Some(json!({"id": "78", "owner": owner, "amount": "1"})),
    )
    .await;
    assert_eq!(not_operator.status, 401);
    check(&doc, "post", "/v1/ledger/mint", &not_operator);
    let wrong_shape = json_request(
        a,
        Some(token),
        "POST",
        "/v1/ledger/mint",
        Some(json!({"id": 78})),
    )
    .await;
    assert_eq!(wrong_shape.status, 422);
    check(&doc, "post", "/v1/ledger/mint", &wrong_shape);

    let wallet = format!("/v1/ledger/accounts/{}", minted.account);
    let account_got = call(a, "GET", &wallet, &[], None).await;
    check(&doc, "get", "/v1/ledger/accounts/{id}", &account_got);
    let view: AccountView = account_got.parse();
    assert_eq!(view.balance.as_deref(), Some("2.5"));
    let history = call(a, "GET", &format!("{wallet}/transfers"), &[], None).await;
    check(&doc, "get", "/v1/ledger/accounts/{id}/transfers", &history);
    let transfer = call(a, "GET", "/v1/ledger/transfers/77", &[], None).await;
    assert_eq!(transfer.status, 200);
    check(&doc, "get", "/v1/ledger/transfers/{id}", &transfer);
    let log = call(a, "GET", "/v1/ledger/log?after=0&limit=1", &[], None).await;
    check(&doc, "get", "/v1/ledger/log", &log);
    let missing = call(a, "GET", "/v1/ledger/accounts/12345", &[], None).await;
    assert_eq!(missing.status, 404);
    check(&doc, "get", "/v1/ledger/accounts/{id}", &missing);
    let not_a_job = as_owner("/v1/jobs/x").await;
    assert_eq!(not_a_job.status, 400);
    check(&doc, "get", "/v1/jobs/{id}", &not_a_job);

    // The check bites: the same answer with a field of the wrong type, or one missing, is refused.
    let schema = response_schema(&doc, "get", "/v1/ledger/accounts/{id}", &account_got);
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let mut wrong = account_got.json();
    wrong["debits_posted"] = json!(0);
    assert!(!validator.is_valid(&wrong), "{wrong}");
    let mut short = account_got.json();
    short.as_object_mut().unwrap().remove("kind");
    assert!(!validator.is_valid(&short), "{short}");

    router.shutdown().await;
}
