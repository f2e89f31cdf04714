//! Which diagram a URL asks for, checked against the plan: the views, their defaults, their
//! errors, and what a page or an export gets.

use serde::Deserialize;

use super::design::Design;
use super::geometry::pt;
use super::page::{Choice, NavLink, Panel, TaskList, TopologyPage, WalkData};
use super::scene::{NoteLine, Scene};
use super::walk::{Caveat, Step, WalkKind, bgp_hop, caveat_in_plan};
use super::{application, cilium, compose, hardware, svg, tasks};
use crate::{Application, Environment, Plan, check_application};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Index,
    Hardware,
    Cilium,
    Compare,
    Application(String),
    /// An application as the cluster runs it, per environment.
    Live(String),
    Walk(WalkKind),
}

impl View {
    /// `hardware`, `cilium`, `compare`, `applications/{app}`, `walk/{arp|bgp}`; the empty
    /// path is the index.
    pub fn parse(path: &str) -> Result<View, TopologyError> {
        let path = path.trim_matches('/');
        match path.split_once('/') {
            None => match path {
                "" => Ok(View::Index),
                "hardware" => Ok(View::Hardware),
                "cilium" => Ok(View::Cilium),
                "compare" => Ok(View::Compare),
                _ => Err(TopologyError::UnknownView(path.to_owned())),
            },
            Some(("applications", app)) if !app.is_empty() && !app.contains('/') => {
                Ok(View::Application(app.to_owned()))
            }
            Some(("live", app)) if !app.is_empty() && !app.contains('/') => {
                Ok(View::Live(app.to_owned()))
            }
            Some(("walk", kind)) => WalkKind::parse(kind)
                .map(View::Walk)
                .ok_or_else(|| TopologyError::UnknownView(path.to_owned())),
            _ => Err(TopologyError::UnknownView(path.to_owned())),
        }
    }

    pub fn path(&self) -> String {
        match self {
            View::Index => String::new(),
            View::Hardware => "hardware".to_owned(),
            View::Cilium => "cilium".to_owned(),
            View::Compare => "compare".to_owned(),
            View::Application(app) => format!("applications/{app}"),
            View::Live(app) => format!("live/{app}"),
            View::Walk(kind) => format!("walk/{}", kind.as_str()),
        }
    }
}

/// A request for a view, as the query string gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Query {
    pub environment: Option<String>,
    pub application: Option<String>,
    pub step: Option<String>,
    /// `none`, `gateway-label` or `frr-vm`; absent: what the plan has.
    pub caveat: Option<String>,
    /// For the live view: what the server read from each environment's cluster.
    #[serde(skip)]
    pub live: Vec<super::live::LiveEnvironment>,
}

impl Query {
    /// From `(name, value)` pairs, as a URL's query would give them.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Query {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        };
        Query {
            environment: get("environment"),
            application: get("application"),
            step: get("step"),
            caveat: get("caveat"),
            live: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error(
        "there is no diagram called {0:?}; the views are hardware, cilium, compare, applications/{{app}}, live/{{app}}, walk/arp and walk/bgp"
    )]
    UnknownView(String),
    #[error("there is no environment named {0:?}; GET /api/v1/environments lists them")]
    UnknownEnvironment(String),
    #[error("there is no application named {0:?}; GET /api/v1/applications lists them")]
    UnknownApplication(String),
    #[error("application {application} is not deployed to environment {environment}; it is in {deployed}")]
    NotDeployed { application: String, environment: String, deployed: String },
    #[error("there are no environments yet; create one (POST /api/v1/environments) or start with --demo")]
    NoEnvironments,
    #[error("environment {environment} does not announce its VIPs by {walk}; {suggestion}")]
    ModeNotUsed { environment: String, walk: &'static str, suggestion: String },
    #[error("environment {0} announces by BGP but has no BGP peer to walk through; add the router as a peer")]
    NoPeer(String),
    #[error("the walk follows a request to an application, and no application is deployed to {0}; deploy one first")]
    NoApplication(String),
    #[error("step must be a number from 1 to {max}; {input:?} is not")]
    InvalidStep { input: String, max: usize },
    #[error("caveat must be none, gateway-label or frr-vm (frr-vm on the BGP walk only); {0:?} is not")]
    InvalidCaveat(String),
}

impl TopologyError {
    pub fn code(&self) -> &'static str {
        match self {
            TopologyError::UnknownView(_) => "unknown_view",
            TopologyError::UnknownEnvironment(_) => "environment_not_found",
            TopologyError::UnknownApplication(_) => "application_not_found",
            TopologyError::NotDeployed { .. } => "application_not_in_environment",
            TopologyError::NoEnvironments => "no_environments",
            TopologyError::ModeNotUsed { .. } => "advertisement_mode",
            TopologyError::NoPeer(_) => "no_bgp_peer",
            TopologyError::NoApplication(_) => "no_application",
            TopologyError::InvalidStep { .. } => "invalid_step",
            TopologyError::InvalidCaveat(_) => "invalid_caveat",
        }
    }

    /// 404 for what does not exist, 400 for a malformed query value, 422 for a view the
    /// plan cannot draw.
    pub fn status(&self) -> u16 {
        match self {
            TopologyError::UnknownView(_)
            | TopologyError::UnknownEnvironment(_)
            | TopologyError::UnknownApplication(_)
            | TopologyError::NotDeployed { .. }
            | TopologyError::NoEnvironments => 404,
            TopologyError::InvalidStep { .. } | TopologyError::InvalidCaveat(_) => 400,
            TopologyError::ModeNotUsed { .. } | TopologyError::NoPeer(_) | TopologyError::NoApplication(_) => 422,
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            TopologyError::UnknownEnvironment(_) | TopologyError::ModeNotUsed { .. } => Some("environment"),
            TopologyError::UnknownApplication(_) | TopologyError::NotDeployed { .. } => Some("application"),
            TopologyError::InvalidStep { .. } => Some("step"),
            TopologyError::InvalidCaveat(_) => Some("caveat"),
            _ => None,
        }
    }
}

/// Environments in the order the views prefer them: production first, then by name.
fn preferred(plan: &Plan) -> Vec<&Environment> {
    let mut envs: Vec<&Environment> = plan.environments.iter().collect();
    envs.sort_by_key(|e| (!e.is_production(), e.name.to_string()));
    envs
}

fn walk_supports(env: &Environment, kind: WalkKind) -> bool {
    match kind {
        WalkKind::Arp => env.advertisement.mode.uses_arp(),
        WalkKind::Bgp => env.advertisement.mode.uses_bgp(),
    }
}

fn environment<'p>(plan: &'p Plan, view: &View, query: &Query) -> Result<&'p Environment, TopologyError> {
    if let Some(name) = query.environment.as_deref().filter(|n| !n.is_empty()) {
        return plan.environments.iter().find(|e| e.name.as_str() == name).ok_or_else(|| TopologyError::UnknownEnvironment(name.to_owned()));
    }
    let envs = preferred(plan);
    let walking = match view {
        View::Walk(kind) => envs.iter().find(|e| walk_supports(e, *kind)).copied(),
        _ => None,
    };
    walking.or_else(|| envs.first().copied()).ok_or(TopologyError::NoEnvironments)
}

fn application<'p>(plan: &'p Plan, env: &Environment, query: &Query) -> Result<Option<&'p Application>, TopologyError> {
    match query.application.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => {
            let app = plan.application(name).ok_or_else(|| TopologyError::UnknownApplication(name.to_owned()))?;
            if !app.environments.contains_key(&env.name) {
                return Err(TopologyError::NotDeployed {
                    application: name.to_owned(),
                    environment: env.name.to_string(),
                    deployed: deployed(app),
                });
            }
            Ok(Some(app))
        }
        None => Ok(plan.applications.iter().find(|a| a.environments.contains_key(&env.name))),
    }
}

fn deployed(app: &Application) -> String {
    let envs: Vec<&str> = app.environments.keys().map(|e| e.as_str()).collect();
    if envs.is_empty() { "no environment".to_owned() } else { envs.join(", ") }
}

/// The caveat asked for (`none` is no caveat), or what the plan has when none is asked.
fn caveat(design: &Design<'_>, kind: WalkKind, query: &Query) -> Result<Option<Caveat>, TopologyError> {
    match query.caveat.as_deref().filter(|c| !c.is_empty()) {
        None => Ok(caveat_in_plan(design, kind)),
        Some("none") => Ok(None),
        Some(text) => match Caveat::parse(text) {
            Some(c) if c.applies_to(kind) => Ok(Some(c)),
            _ => Err(TopologyError::InvalidCaveat(text.to_owned())),
        },
    }
}

fn step_number(query: &Query, max: usize) -> Result<usize, TopologyError> {
    match query.step.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(1),
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| TopologyError::InvalidStep { input: text.to_owned(), max }),
    }
}

/// Everything a walk needs, checked.
struct Walk<'p> {
    design: Design<'p>,
    kind: WalkKind,
    caveat: Option<Caveat>,
    steps: Vec<Step>,
    step: usize,
}

fn walk<'p>(plan: &'p Plan, kind: WalkKind, query: &Query) -> Result<Walk<'p>, TopologyError> {
    let view = View::Walk(kind);
    let env = environment(plan, &view, query)?;
    if !walk_supports(env, kind) {
        let others: Vec<String> = preferred(plan).iter().filter(|e| walk_supports(e, kind)).map(|e| e.name.to_string()).collect();
        return Err(TopologyError::ModeNotUsed {
            environment: env.name.to_string(),
            walk: kind.name(),
            suggestion: if others.is_empty() {
                format!("no environment does; set one's advertisement mode to {} or both", kind.as_str())
            } else {
                format!("walk through {} instead", others.join(" or "))
            },
        });
    }
    let app = application(plan, env, query)?.ok_or_else(|| TopologyError::NoApplication(env.name.to_string()))?;
    let mut design = Design::new(plan, env, Some(app));
    if kind == WalkKind::Bgp && bgp_hop(&design).is_none() {
        return Err(TopologyError::NoPeer(env.name.to_string()));
    }
    let caveat = caveat(&design, kind, query)?;
    // A caveat the plan does not have is shown as a supposition, drawn as if it were so.
    let supposed = caveat.filter(|c| caveat_in_plan(&design, kind) != Some(*c));
    if let Some(c) = caveat {
        super::walk::suppose(&mut design, c);
    }
    let steps = super::walk::steps(&design, kind, caveat, supposed.is_some());
    let step = step_number(query, steps.len())?;
    Ok(Walk { design, kind, caveat, steps, step })
}

fn walk_scene(w: &Walk<'_>, id: &str) -> Scene {
    let mut scene = super::walk::draw(cilium::scene(&w.design, id), &w.steps, w.step);
    let app = w.design.app.as_ref().map_or_else(String::new, |a| a.app.name.to_string());
    scene.title = format!(
        "Packet walk ({}): {app} in {} — step {} of {}{}",
        w.kind.name(),
        w.design.env.name,
        w.step,
        w.steps.len(),
        w.caveat.map(|c| format!(" — {}", c.title())).unwrap_or_default()
    );
    if let Some(s) = w.steps.get(w.step - 1) {
        scene.summary = s.sentence.clone();
    }
    let heading = scene.id_of("heading");
    if let Some(line) = scene.notes.iter_mut().find(|n| n.id == heading).and_then(|n| n.lines.first_mut()) {
        line.text = format!("Packet walk ({}): {app} in {}", w.kind.name(), w.design.env.name);
    }
    scene
}

/// The diagram of a view as one scene, for the SVG and PNG exports: composed views side by
/// side, the turn-up tasks and a walk step's sentence written into the drawing.
pub fn export(plan: &Plan, now_unix: i64, view: &View, query: &Query) -> Result<Scene, TopologyError> {
    match view {
        View::Index => Err(TopologyError::UnknownView(String::new())),
        View::Hardware | View::Cilium | View::Compare => {
            let env = environment(plan, view, query)?;
            let app = application(plan, env, query)?;
            let design = Design::new(plan, env, app);
            Ok(match view {
                View::Hardware => hardware::scene(&design, "hardware"),
                View::Cilium => cilium::scene(&design, "cilium"),
                _ => {
                    let mut hw = hardware::scene(&design, "hardware");
                    let mut k8s = cilium::scene(&design, "cilium");
                    append_tasks(&mut hw, "Hardware turn-up tasks", &tasks::hardware(&design));
                    append_tasks(&mut k8s, "Kubernetes turn-up tasks", &tasks::kubernetes(&design));
                    compose::beside("compare", format!("Hardware beside Cilium: {}", design.env.name), vec![hw, k8s])
                }
            })
        }
        View::Application(name) => {
            let (app, envs) = application_environments(plan, name, query)?;
            let findings = check_application(plan, name, now_unix).findings;
            let panels: Vec<Scene> = envs
                .iter()
                .map(|env| application::scene(&Design::new(plan, env, Some(app)), &findings, &format!("app-{}", env.name)))
                .collect();
            let names: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
            Ok(compose::beside(&format!("application-{name}"), format!("{name}: {}", names.join(" beside ")), panels))
        }
        View::Live(name) => {
            let (_, envs) = application_environments(plan, name, query)?;
            let panels: Vec<Scene> = envs
                .iter()
                .map(|env| live_scene(name, env, query))
                .collect();
            let names: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
            Ok(compose::beside(
                &format!("live-{name}"),
                format!("{name} live: {}", names.join(" beside ")),
                panels,
            ))
        }
        View::Walk(kind) => {
            let w = walk(plan, *kind, query)?;
            let mut scene = walk_scene(&w, "walk");
            if let Some(s) = w.steps.get(w.step - 1) {
                let y = scene.height;
                let mut h = scene.paragraph("caption-step", pt(40, y), scene.width - 80, &format!("Step {} of {}", w.step, w.steps.len()), 15, true);
                h += scene.paragraph("caption", pt(40, y + h), scene.width - 80, &s.sentence, 14, false);
                scene.height = y + h + 24;
            }
            Ok(scene)
        }
    }
}

/// The live scene of `name` in `env`, from what the server read into the query.
fn live_scene(name: &str, env: &Environment, query: &Query) -> Scene {
    let unread = || super::live::LiveEnvironment {
        environment: env.name.to_string(),
        failure: Some("the cluster was not read for this environment".to_owned()),
        ..Default::default()
    };
    let live = query
        .live
        .iter()
        .find(|l| l.environment == env.name.as_str())
        .cloned()
        .unwrap_or_else(unread);
    super::live::scene(name, &live, &format!("live-{}", env.name))
}

fn application_environments<'p>(
    plan: &'p Plan,
    name: &str,
    query: &Query,
) -> Result<(&'p Application, Vec<&'p Environment>), TopologyError> {
    let app = plan
        .application(name)
        .ok_or_else(|| TopologyError::UnknownApplication(name.to_owned()))?;
    let mut envs: Vec<&Environment> = app
        .environments
        .keys()
        .filter_map(|e| plan.environment(e))
        .collect();
    if let Some(only) = query.environment.as_deref().filter(|e| !e.is_empty()) {
        let env = plan.environments.iter().find(|e| e.name.as_str() == only).ok_or_else(|| TopologyError::UnknownEnvironment(only.to_owned()))?;
        if !app.environments.contains_key(&env.name) {
            return Err(TopologyError::NotDeployed { application: name.to_owned(), environment: only.to_owned(), deployed: deployed(app) });
        }
        envs = vec![env];
    }
    Ok((app, envs))
}

fn append_tasks(scene: &mut Scene, heading: &str, list: &[tasks::Task]) {
    let mut lines = vec![NoteLine { text: heading.to_owned(), size: 16, strong: true, class: None }];
    for (i, task) in list.iter().enumerate() {
        lines.push(NoteLine { text: format!("{}. {}", i + 1, task.title), size: 14, strong: true, class: None });
        for line in super::geometry::wrap(&task.detail, scene.width - 100, 13) {
            lines.push(NoteLine { text: format!("    {line}"), size: 13, strong: false, class: None });
        }
    }
    let note = super::scene::Note { id: scene.id_of("tasks"), x: 40, y: scene.height, lines };
    scene.height += note.height() + 24;
    scene.notes.push(note);
}

/// `base?k=v&…` with the pairs that have a value.
fn with_query(base: String, pairs: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> =
        pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v)))).collect();
    if query.is_empty() { base } else { format!("{base}?{}", query.join("&")) }
}

/// The page of a view.
fn href(view: &View, pairs: &[(&str, Option<String>)]) -> String {
    with_query(format!("/topology/{}", view.path()).trim_end_matches('/').to_owned(), pairs)
}

/// The API path of a view's export, without the extension.
fn export_path(view: &View, pairs: &[(&str, Option<String>)]) -> String {
    with_query(format!("/api/v1/topology/{}", view.path()), pairs)
}

/// Percent-encodes a query value (names are DNS labels; this guards anything else).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn panel(scene: &Scene, heading: String) -> Panel {
    Panel { id: scene.id.clone(), heading, svg: svg::render(scene), items: scene.text_items(), tasks: None }
}

/// What the page of a view shows.
pub fn page(plan: &Plan, now_unix: i64, view: &View, query: &Query) -> Result<TopologyPage, TopologyError> {
    let mut page = TopologyPage { view: view.path(), ..TopologyPage::default() };
    page.applications = plan.applications.iter().map(|a| a.name.to_string()).collect();
    match view {
        View::Index => {
            page.title = "Topology".to_owned();
            page.lead = "The hardware load-balancer design beside the Cilium design that replaces it, dev beside prod, and packet walks — drawn from the stored plan.".to_owned();
            page.sections = index(plan);
        }
        View::Hardware | View::Cilium | View::Compare => {
            let env = environment(plan, view, query)?;
            let app = application(plan, env, query)?;
            let design = Design::new(plan, env, app);
            page.environment = Some(env.name.to_string());
            page.application = app.map(|a| a.name.to_string());
            page.environments = environment_choices(plan, view, env, &|_| true);
            page.export = export_path(view, &[("environment", page.environment.clone()), ("application", page.application.clone())]);
            let subject = app.map_or_else(|| format!("environment {}", env.name), |a| format!("{} in {}", a.name, env.name));
            match view {
                View::Hardware => {
                    page.title = "Hardware design".to_owned();
                    page.lead = format!("The appliance design Cilium replaces, for {subject}: clients, routers, the load-balancer appliance with the VIP and the key pair, and the hosts it health-checks.");
                    page.panels.push(panel(&hardware::scene(&design, "hardware"), "Hardware".to_owned()));
                }
                View::Cilium => {
                    page.title = "Cilium design".to_owned();
                    page.lead = format!("How a request reaches {subject} with Cilium: the router finds the Gateway VIP by ARP or BGP, the Gateway terminates TLS, the HTTPRoute picks the Service, the Service a pod.");
                    page.panels.push(panel(&cilium::scene(&design, "cilium"), "Cilium".to_owned()));
                }
                _ => {
                    page.title = "Hardware beside Cilium".to_owned();
                    page.lead = format!("The same service, {subject}, built both ways, with the turn-up tasks of each. Hover over or focus a task to see the elements it concerns.");
                    let mut hw = panel(&hardware::scene(&design, "hardware"), "Hardware".to_owned());
                    hw.tasks = Some(TaskList { heading: "Hardware turn-up tasks".to_owned(), tasks: tasks::hardware(&design) });
                    let mut k8s = panel(&cilium::scene(&design, "cilium"), "Cilium".to_owned());
                    k8s.tasks = Some(TaskList { heading: "Kubernetes turn-up tasks".to_owned(), tasks: tasks::kubernetes(&design) });
                    page.panels = vec![hw, k8s];
                }
            }
        }
        View::Application(name) => {
            let (app, envs) = application_environments(plan, name, query)?;
            let findings = check_application(plan, name, now_unix).findings;
            page.application = Some(name.clone());
            page.title = format!("{name}: environments side by side");
            page.lead = format!(
                "Pod ranges, VIP ranges, ConfigMaps, certificates, hostnames and Gateways of {name} in {}, with each checklist finding drawn on the element it concerns.",
                envs.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(" and ")
            );
            page.export = export_path(view, &[("environment", query.environment.clone().filter(|e| !e.is_empty()))]);
            for env in envs {
                let scene = application::scene(&Design::new(plan, env, Some(app)), &findings, &format!("app-{}", env.name));
                page.panels.push(panel(&scene, format!("Environment {}", env.name)));
            }
            page.findings = findings;
        }
        View::Live(name) => {
            let (_, envs) = application_environments(plan, name, query)?;
            page.application = Some(name.clone());
            page.title = format!("{name}: live from the cluster");
            page.lead = format!(
                "What the cluster runs for {name} now: nodes and their pods, the Gateways, and the LoadBalancer Services with the VIPs LB-IPAM assigned, each marked announced (by an L2 policy or a BGP advertisement) or not. Reload to read it again."
            );
            page.export = export_path(
                view,
                &[(
                    "environment",
                    query.environment.clone().filter(|e| !e.is_empty()),
                )],
            );
            for env in envs {
                let scene = live_scene(name, env, query);
                page.panels
                    .push(panel(&scene, format!("Environment {}", env.name)));
            }
        }
        View::Walk(kind) => {
            let w = walk(plan, *kind, query)?;
            let env = w.design.env;
            let app = w.design.app.as_ref().map(|a| a.app.name.to_string());
            page.environment = Some(env.name.to_string());
            page.application = app.clone();
            page.environments = environment_choices(plan, view, env, &|e| walk_supports(e, *kind));
            page.title = format!("Packet walk: {}", kind.name());
            page.lead = format!(
                "A request from a client to a pod of {} in {} and back, one step at a time. Use the buttons or the arrow keys.",
                app.clone().unwrap_or_default(),
                env.name
            );
            let caveat_text = w.caveat.map_or("none", Caveat::as_str).to_owned();
            let at = |n: usize, caveat: &str| {
                href(view, &[("environment", Some(env.name.to_string())), ("application", app.clone()), ("step", Some(n.to_string())), ("caveat", Some(caveat.to_owned()))])
            };
            let step_hrefs: Vec<String> = (1..=w.steps.len()).map(|n| at(n, &caveat_text)).collect();
            let mut caveats = vec![Choice { name: "none".to_owned(), label: "No caveat".to_owned(), href: at(1, "none"), current: w.caveat.is_none() }];
            caveats.extend(Caveat::ALL.into_iter().filter(|c| c.applies_to(*kind)).map(|c| Choice {
                name: c.as_str().to_owned(),
                label: c.title().to_owned(),
                href: at(1, c.as_str()),
                current: w.caveat == Some(c),
            }));
            page.export = export_path(view, &[("environment", Some(env.name.to_string())), ("application", app.clone()), ("step", Some(w.step.to_string())), ("caveat", Some(caveat_text.clone()))]);
            page.panels.push(panel(&walk_scene(&w, "walk"), format!("{} walk", kind.name())));
            page.walk = Some(WalkData {
                kind: kind.as_str().to_owned(),
                step: w.step,
                steps: w.steps.iter().map(|s| s.sentence.clone()).collect(),
                stops: w.steps.last().is_some_and(|s| s.stops),
                caveat: caveat_text,
                caveats,
                step_hrefs,
            });
        }
    }
    Ok(page)
}

fn environment_choices(plan: &Plan, view: &View, current: &Environment, include: &dyn Fn(&Environment) -> bool) -> Vec<Choice> {
    preferred(plan)
        .into_iter()
        .filter(|e| include(e))
        .map(|e| Choice {
            name: e.name.to_string(),
            label: e.name.to_string(),
            href: href(view, &[("environment", Some(e.name.to_string()))]),
            current: e.name == current.name,
        })
        .collect()
}

/// The index: every view, for every environment and application, and the walks.
fn index(plan: &Plan) -> Vec<(String, Vec<NavLink>)> {
    let envs = preferred(plan);
    let per_env = |view: View, what: &str| -> Vec<NavLink> {
        envs.iter()
            .map(|e| NavLink {
                label: format!("{what} — {}", e.name),
                href: href(&view, &[("environment", Some(e.name.to_string()))]),
                detail: match e.advertisement.mode {
                    crate::AdvertisementMode::Arp => "VIPs announced by ARP".to_owned(),
                    crate::AdvertisementMode::Bgp => "VIPs announced by BGP".to_owned(),
                    crate::AdvertisementMode::Both => "VIPs announced by ARP and BGP".to_owned(),
                },
            })
            .collect()
    };
    let mut sections = vec![
        ("Hardware beside Cilium".to_owned(), per_env(View::Compare, "Side by side, with the turn-up tasks")),
        ("Hardware design".to_owned(), per_env(View::Hardware, "The appliance design")),
        ("Cilium design".to_owned(), per_env(View::Cilium, "The Cilium design")),
    ];
    sections.push((
        "Applications: environments side by side".to_owned(),
        plan.applications
            .iter()
            .map(|a| NavLink {
                label: format!("{} — {}", a.name, deployed(a)),
                href: href(&View::Application(a.name.to_string()), &[]),
                detail: "pod ranges, VIP ranges, ConfigMaps, certificates, hostnames, Gateways and findings".to_owned(),
            })
            .collect(),
    ));
    sections.push((
        "Applications: live from the cluster".to_owned(),
        plan.applications
            .iter()
            .map(|a| NavLink {
                label: format!("{} — live", a.name),
                href: href(&View::Live(a.name.to_string()), &[]),
                detail: "nodes, pods, Gateways and VIPs as the cluster runs them, each VIP announced or not".to_owned(),
            })
            .collect(),
    ));
    let mut walks = Vec::new();
    for kind in [WalkKind::Arp, WalkKind::Bgp] {
        for e in envs.iter().filter(|e| walk_supports(e, kind)) {
            walks.push(NavLink {
                label: format!("{} walk — {}", kind.name(), e.name),
                href: href(&View::Walk(kind), &[("environment", Some(e.name.to_string()))]),
                detail: "step by step from a client to a pod and back".to_owned(),
            });
            for c in Caveat::ALL.into_iter().filter(|c| c.applies_to(kind)) {
                walks.push(NavLink {
                    label: format!("{} walk — {} — caveat: {}", kind.name(), e.name, c.title()),
                    href: href(&View::Walk(kind), &[("environment", Some(e.name.to_string())), ("caveat", Some(c.as_str().to_owned()))]),
                    detail: "where it breaks".to_owned(),
                });
            }
        }
    }
    sections.push(("Packet walks".to_owned(), walks));
    sections.retain(|(_, links)| !links.is_empty());
    sections
}
