//! End to end (issue 6): `omadm client` against `omadm server`, each a separate process, over real
//! HTTP and HTTPS, in XML and in WBXML, for every authentication scheme, on SQLite and (when the
//! test script started one) PostgreSQL. Jobs are queued through the operator CLI and the REST API
//! and read back as an operator would.

mod harness;

use harness::*;
use hyper::Method;
use omadm_server::client::ApiClient;
use omadm_server::model::{JobCommand, Operation, UiAlert};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;

const SCHEMES: [&str; 4] = ["basic", "md5", "hmac", "sha256"];

/// A device provisioned on a server, and the client settings that match it.
struct Device {
    dev_id: String,
    auth: &'static str,
    client_secret: String,
    server_secret: String,
    store: PathBuf,
}

impl Device {
    /// `omadm devices add` with `auth` both ways and fresh secrets.
    fn provision(server: &Server, auth: &'static str, label: &str) -> Device {
        let dev_id = format!("IMEI:{label}-{auth}");
        let device = Device {
            client_secret: format!("client-{label}-{auth}"),
            server_secret: format!("server-{label}-{auth}"),
            store: server.dir.join(&format!("{label}-{auth}.redb")),
            dev_id,
            auth,
        };
        server.operator(&[
            "devices",
            "add",
            "--dev-id",
            &device.dev_id,
            "--client-auth",
            auth,
            "--client-secret",
            &device.client_secret,
            "--server-auth",
            auth,
            "--server-user",
            "omadm",
            "--server-secret",
            &device.server_secret,
        ]);
        device
    }

    /// The `omadm client --once` arguments for a session with `server`.
    fn client_args(&self, server: &Server, wbxml: bool, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "--once",
            "--server",
            &server.dm_url(),
            "--dev-id",
            &self.dev_id,
            "--server-id",
            "omadm",
            "--client-auth",
            self.auth,
            "--client-secret",
            &self.client_secret,
            "--server-auth",
            self.auth,
            "--server-user",
            "omadm",
            "--server-secret",
            &self.server_secret,
            "--store",
            &self.store.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if wbxml {
            args.push("--wbxml".into());
        }
        if let Some(tls) = &server.tls {
            args.extend(["--ca".to_string(), tls.cert.display().to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// Runs one session and asserts that it completed.
    fn session(&self, server: &Server, wbxml: bool, extra: &[&str]) -> Output {
        let out = client(&self.client_args(server, wbxml, extra), &server.dir.0);
        assert!(
            out.status.success(),
            "client session of {} failed: {}\nstdout: {}\nserver log:\n{}",
            self.dev_id,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            server.log_text()
        );
        out
    }
}

/// `omadm jobs create` with these command flags; returns the job id.
fn create_job(server: &Server, dev_id: &str, flags: &[&str]) -> String {
    let mut args = vec!["jobs", "create", "--dev-id", dev_id];
    args.extend_from_slice(flags);
    let id = server.operator(&args).trim().to_string();
    assert!(id.parse::<i64>().is_ok(), "jobs create printed {id:?}, not a job id");
    id
}

/// The REST API, for what the operator CLI has no flags for (UI alerts, large values, events).
fn api(server: &Server, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut client = ApiClient::new(&server.base(), Some(API_TOKEN.to_string())).unwrap();
    if let Some(tls) = &server.tls {
        client = client.with_ca_pem(std::fs::read_to_string(&tls.cert).unwrap());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime
        .block_on(client.call(method, path, body.as_ref()))
        .unwrap_or_else(|e| panic!("API {path} failed: {e}\nserver log:\n{}", server.log_text()))
}

fn api_job(server: &Server, dev_id: &str, commands: Vec<JobCommand>) -> i64 {
    let created = api(server, Method::POST, "/api/jobs", Some(json!({ "dev_id": dev_id, "commands": commands })));
    let id = created["jobs"][0]["id"].as_i64().or_else(|| created["id"].as_i64());
    id.unwrap_or_else(|| panic!("no job id in {created}"))
}

fn job_json(server: &Server, id: i64) -> Value {
    api(server, Method::GET, &format!("/api/jobs/{id}"), None)
}

fn replace(target: &str, value: &str) -> JobCommand {
    JobCommand { data: Some(value.to_string()), ..JobCommand::new(Operation::Replace, Some(target.to_string())) }
}

fn get(target: &str) -> JobCommand {
    JobCommand::new(Operation::Get, Some(target.to_string()))
}

#[test]
fn every_scheme_and_encoding_over_http_and_https_on_every_backend() {
    for backend in Backend::all() {
        for https in [false, true] {
            let transport = if https { "https" } else { "http" };
            let server = Server::start(&backend, https, &format!("{}-{transport}", backend.label()));
            for wbxml in [false, true] {
                for auth in SCHEMES {
                    let label = format!("{}-{transport}-{}", backend.label(), if wbxml { "wbxml" } else { "xml" });
                    let device = Device::provision(&server, auth, &label);
                    let new_name = format!("renamed {label} {auth}");
                    let job = create_job(
                        &server,
                        &device.dev_id,
                        &["--get", "./DevDetail/URI/MaxDepth", "--replace", &format!("./DMAcc/omadm/Name={new_name}")],
                    );
                    device.session(&server, wbxml, &[]);
                    let shown = server.operator(&["jobs", "show", &job]);
                    let context = format!("{label} {auth}:\n{shown}\nserver log:\n{}", server.log_text());
                    assert!(shown.contains("completed"), "job not completed, {context}");
                    assert_eq!(shown.matches(": 200").count(), 2, "two commands answered 200, {context}");
                    assert!(shown.contains("./DevDetail/URI/MaxDepth = 0"), "MaxDepth result, {context}");
                    // the device registered and told its DevInfo
                    let about = server.operator(&["devices", "show", &device.dev_id]);
                    assert!(!about.contains("last session: never"), "{about}");
                    assert!(about.contains("DevInfo/Man"), "{about}");
                }
            }
        }
    }
}

#[test]
fn hmac_with_sha256_from_the_client_is_accepted_by_the_server() {
    let server = Server::start(&Backend::Sqlite, false, "hmac-sha256");
    let device = Device::provision(&server, "hmac", "hmac-sha256");
    let job = create_job(&server, &device.dev_id, &["--get", "./DMAcc/omadm/AAuthPref"]);
    let args: Vec<String> = device
        .client_args(&server, false, &["-v"])
        .into_iter()
        .map(|a| if a == "hmac" { "hmac-sha256".to_string() } else { a })
        .collect();
    let out = client(&args, &server.dir.0);
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), server.log_text());
    let shown = server.operator(&["jobs", "show", &job]);
    // the device reports the scheme it was told to use, spelled for DMAcc
    assert!(shown.contains("./DMAcc/omadm/AAuthPref = HMAC-SHA256"), "{shown}");
}

#[test]
fn atomic_exec_ui_alert_generic_alert_large_object_and_a_restart_lose_nothing() {
    for backend in Backend::all() {
        let mut server = Server::start(&backend, false, &format!("{}-flows", backend.label()));
        let device = Device::provision(&server, "md5", &format!("{}-flows", backend.label()));
        let ui_script = server.dir.join("ui-answers");
        std::fs::write(&ui_script, "yes\n").unwrap();

        // Session 1: an Atomic through the CLI, a UI confirm alert through the API.
        let atomic = create_job(
            &server,
            &device.dev_id,
            &["--atomic", "--replace", "./DMAcc/omadm/Name=atomic-1", "--replace", "./DMAcc/omadm/Name=atomic-2"],
        );
        let alert = JobCommand {
            alert: Some(UiAlert {
                code: 1101,
                text: "Install the update now?".into(),
                options: "MINDT=1&MAXDT=30".into(),
                choices: vec![],
            }),
            ..JobCommand::new(Operation::Alert, None)
        };
        let confirm = api_job(&server, &device.dev_id, vec![alert]);
        // An Exec of a vendor node the profile defines, running a program on the device side.
        let exec_mark = server.dir.join("exec-ran");
        let profile = server.dir.join("device.toml");
        std::fs::write(
            &profile,
            format!(
                "[[node]]\nuri = \"./Vendor/Reboot\"\nformat = \"null\"\nacl = \"Get=*&Exec=*\"\n\n\
                 [[exec]]\nuri = \"./Vendor/Reboot\"\ncommand = [\"/bin/sh\", \"-c\", \"echo \\\"$OMADM_EXEC_URI\\\" > '{}'\"]\n",
                exec_mark.display()
            ),
        )
        .unwrap();
        let exec = create_job(&server, &device.dev_id, &["--exec", "./Vendor/Reboot"]);
        let ui = ui_script.display().to_string();
        let profile = profile.display().to_string();
        device.session(
            &server,
            false,
            &[
                "--ui",
                "scripted",
                "--ui-script",
                &ui,
                "--profile",
                &profile,
                "--generic-alert",
                "org.example.e2e@./Vendor=hello",
            ],
        );
        assert_eq!(
            std::fs::read_to_string(&exec_mark).unwrap().trim(),
            "./Vendor/Reboot",
            "the Exec ran on the device"
        );

        // A restart (SIGKILL) between sessions loses nothing.
        server.restart();
        let shown = server.operator(&["jobs", "show", &atomic]);
        assert!(shown.contains("completed") && shown.matches(": 200").count() >= 2, "atomic after restart:\n{shown}");
        assert_eq!(job_json(&server, confirm)["commands"][0]["status"], 200, "the scripted UI said yes");
        let about = server.operator(&["devices", "show", &device.dev_id]);
        assert!(!about.contains("last session: never"), "{about}");
        let shown = server.operator(&["jobs", "show", &exec]);
        assert!(shown.contains("completed") && shown.contains("Exec ./Vendor/Reboot: 200"), "exec:\n{shown}");
        let events = api(&server, Method::GET, &format!("/api/events?dev_id={}", device.dev_id), None);
        let event = events["events"].as_array().and_then(|e| e.first()).cloned().unwrap_or_default();
        assert_eq!((event["code"].as_u64(), event["data"].as_str()), (Some(1226), Some("hello")), "{events}");
        assert_eq!(
            (event["media_type"].as_str(), event["source"].as_str()),
            (Some("org.example.e2e"), Some("./Vendor"))
        );

        // Session 2, after the restart: 1 MB down in one Replace and back up in a Get, in 4 KB
        // messages each way.
        let big: String = (0..1_048_576u32).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let large =
            api_job(&server, &device.dev_id, vec![replace("./DMAcc/omadm/Name", &big), get("./DMAcc/omadm/Name")]);
        device.session(&server, true, &["--max-msg-size", "4096"]);
        let job = job_json(&server, large);
        assert_eq!(job["state"], "completed", "{}", server.log_text());
        assert_eq!(job["commands"][0]["status"], 200);
        assert_eq!(job["commands"][1]["status"], 200);
        let got = job["commands"][1]["results"][0]["data"].as_str().unwrap_or_default();
        assert_eq!(got.len(), big.len(), "the Get brought back the whole large object");
        assert!(got == big, "the large object came back unchanged");
    }
}

#[test]
fn an_asynchronous_exec_answers_202_and_its_1226_arrives_after_a_client_restart() {
    let server = Server::start(&Backend::Sqlite, false, "async-exec");
    let device = Device::provision(&server, "md5", "async-exec");
    let mark = server.dir.join("update-ran");
    let profile = server.dir.join("async.toml");
    std::fs::write(
        &profile,
        format!(
            "[[node]]\nuri = \"./Vendor/Update\"\nformat = \"null\"\nacl = \"Get=*&Exec=*\"\n\n\
             [[exec]]\nuri = \"./Vendor/Update\"\nasync = true\nalert_type = \"org.example.update.result\"\n\
             command = [\"/bin/sh\", \"-c\", \"sleep 1; echo \\\"$OMADM_EXEC_CORRELATOR\\\" > '{}'\"]\n",
            mark.display()
        ),
    )
    .unwrap();
    let profile = profile.display().to_string();
    let exec = create_job(&server, &device.dev_id, &["--exec", "./Vendor/Update"]);

    // Session 1: the Exec is answered 202 at once; the process waits for the action before it
    // exits (--once) and leaves its completion next to the tree store.
    let out = device.session(&server, false, &["--profile", &profile]);
    let shown = server.operator(&["jobs", "show", &exec]);
    assert!(shown.contains("Exec ./Vendor/Update: 202"), "exec:\n{shown}");
    let correlator = std::fs::read_to_string(&mark).expect("the action ran").trim().to_string();
    assert!(!correlator.is_empty(), "the action saw the Correlator");
    let pending = PathBuf::from(format!("{}.pending-alerts.json", device.store.display()));
    let kept = std::fs::read_to_string(&pending).expect("the completion is kept next to the store");
    assert!(kept.contains(&correlator) && kept.contains("200"), "{kept}");
    let events_of = || api(&server, Method::GET, &format!("/api/events?dev_id={}", device.dev_id), None);
    assert_eq!(
        events_of()["events"].as_array().map(Vec::len),
        Some(0),
        "nothing reported yet: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Session 2, a new client process: Package 1 carries the 1226 with the Correlator.
    device.session(&server, false, &["--profile", &profile]);
    let events = events_of();
    let list = events["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{events}");
    let event = &list[0];
    assert_eq!(event["code"].as_u64(), Some(1226));
    assert_eq!(event["correlator"].as_str(), Some(correlator.as_str()));
    assert_eq!(event["data"].as_str(), Some("200"));
    assert_eq!(event["media_type"].as_str(), Some("org.example.update.result"));
    assert_eq!(event["source"].as_str(), Some("./Vendor/Update"));
    let kept = std::fs::read_to_string(&pending).unwrap();
    assert!(!kept.contains(&correlator), "acknowledged, so forgotten: {kept}");

    // Session 3: nothing is reported twice.
    device.session(&server, false, &["--profile", &profile]);
    assert_eq!(events_of()["events"].as_array().map(Vec::len), Some(1));
}

#[test]
fn loadgen_runs_authenticated_sessions_with_queued_work_and_prints_a_parsable_summary() {
    let server = Server::start(&Backend::Sqlite, false, "loadgen");
    for (auth, wbxml) in [("md5", false), ("hmac", true)] {
        let mut cmd = std::process::Command::new(omadm_bin());
        cmd.args(["loadgen", "--url", &server.dm_url(), "--devices", "6", "--duration", "1", "--concurrency", "3"])
            .args(["--auth", auth, "--api-token", API_TOKEN]);
        if wbxml {
            cmd.arg("--wbxml");
        }
        let out = cmd.output().expect("run omadm loadgen");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let context = format!("{stdout}\n{}\nserver log:\n{}", String::from_utf8_lossy(&out.stderr), server.log_text());
        assert!(out.status.success(), "loadgen failed: {context}");
        let last = stdout.lines().last().unwrap_or_default();
        let fields: Vec<&str> = last.split_whitespace().collect();
        assert_eq!(
            (fields[0], fields[2], fields[4], fields[5]),
            ("sessions/s:", "p99_ms:", "errors:", "0"),
            "{context}"
        );
        assert!(fields[1].parse::<f64>().unwrap() > 0.0, "{context}");
        // the server really ran the queued work: every device has completed jobs
        let jobs = api(&server, Method::GET, "/api/jobs?limit=1000", None);
        let completed = jobs["jobs"].as_array().unwrap().iter().filter(|j| j["state"] == "completed").count();
        assert!(completed >= 6, "{completed} completed jobs: {context}");
    }
    // --json prints the whole summary
    let out = std::process::Command::new(omadm_bin())
        .args(["loadgen", "--url", &server.dm_url(), "--devices", "2", "--duration", "1", "--json"])
        .args(["--api-token", API_TOKEN])
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(summary["error_total"], 0);
    assert!(summary["session_latency"]["count"].as_u64().unwrap() >= 2);
}

#[test]
fn loadgen_reports_server_figures_holds_sessions_open_and_compares_with_an_echo_server() {
    let server = Server::start(&Backend::Sqlite, false, "loadgen-instruments");
    let echo = start_echo_server();
    let out = std::process::Command::new(omadm_bin())
        .args(["loadgen", "--url", &server.dm_url(), "--devices", "8", "--duration", "1", "--concurrency", "3"])
        .args(["--hold-open", "5", "--echo-url", &echo, "--json", "--api-token", API_TOKEN])
        .output()
        .expect("run omadm loadgen");
    let context = format!(
        "{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log_text()
    );
    assert!(out.status.success(), "loadgen failed: {context}");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");

    // Server-side figures over the measured time agree with what the devices saw.
    let server_side = &summary["server"];
    assert_eq!(server_side["messages"], summary["messages"], "{context}");
    assert_eq!(server_side["sessions_completed"], summary["sessions"], "{context}");
    assert_eq!(server_side["http_errors"], 0, "{context}");
    assert!(server_side["rss_after_kb"].as_u64().is_some_and(|kb| kb > 1000), "{context}");
    assert!(server_side["cpu_ms_per_session"].is_f64(), "{context}");
    // And the load generator's own CPU over the same time.
    assert!(summary["loadgen_cpu"]["cpu_ms"].is_u64(), "{context}");
    assert!(summary["loadgen_cpu"]["cpu_ms_per_session"].is_f64(), "{context}");

    // Five sessions held open at once, seen open by the server, then finished.
    let held = &summary["hold_open"];
    assert_eq!((held["requested"].as_u64(), held["held"].as_u64()), (Some(5), Some(5)), "{context}");
    let open = |key: &str| held[key].as_u64().expect("an open-session count");
    assert_eq!(open("server_open_held") - open("server_open_before"), 5, "{context}");
    assert!(held["bytes_per_session"].is_f64(), "{context}");
    assert_eq!((held["finished"].as_u64(), held["finish_errors"].as_u64()), (Some(5), Some(0)), "{context}");

    // The echo baseline replayed the typical session: same round trips, same body sizes.
    let echo_run = &summary["echo"];
    let shape = echo_run["shape"].as_array().expect("a session shape");
    assert!(shape.len() >= 2, "Package 1 and Package 3 at least: {context}");
    assert_eq!(echo_run["shape"], summary["round_trips"], "{context}");
    assert_eq!(echo_run["summary"]["error_total"], 0, "{context}");
    let echo_sessions = echo_run["summary"]["sessions"].as_u64().unwrap();
    assert!(echo_sessions > 0, "{context}");
    assert_eq!(echo_run["summary"]["messages"].as_u64().unwrap(), echo_sessions * shape.len() as u64, "{context}");
    assert_eq!(echo_run["summary"]["round_trips"], summary["round_trips"], "same sizes each way: {context}");
    let ratio = echo_run["ratio_percent"].as_f64().unwrap();
    let expected =
        100.0 * summary["sessions_per_s"].as_f64().unwrap() / echo_run["summary"]["sessions_per_s"].as_f64().unwrap();
    assert!((ratio - expected).abs() < 0.1, "{ratio} vs {expected}: {context}");
}
