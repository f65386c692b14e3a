//! The tray icon, a StatusNotifierItem on the session bus (what desktops' trays and
//! panels show; no GTK, so the client process holds nothing of a toolkit all day). Its
//! title and tooltip tell who is identified and whether the server is away; its menu
//! opens the window, logs in or out, shows the jobs, or quits. Words follow the
//! settings' language (else the OS locale) and the login state, read from the engine
//! each time the tray is asked; [`Tray::refresh`] tells the panel they changed.

use std::sync::Arc;

use ksni::menu::{MenuItem, StandardItem};
use ksni::{Icon, ToolTip, TrayMethods};
use ream_client::Engine;
use tokio::sync::Notify;

use crate::i18n::{self, Lang};
use crate::windows::Windows;

/// The running tray icon.
#[derive(Clone)]
pub struct Tray {
    handle: ksni::Handle<Item>,
}

impl Tray {
    /// Puts the icon up. A desktop without a tray yet (its panel starts after the app,
    /// or has none) gets it when its tray comes; the menu's actions work over the bus
    /// either way.
    pub async fn create(engine: Engine, windows: Windows, quit: Arc<Notify>) -> Result<Tray, ksni::Error> {
        let item = Item { engine, windows, quit, icon: icon() };
        let handle = item.assume_sni_available(true).spawn().await?;
        Ok(Tray { handle })
    }

    /// The words changed (the login state, the connection, the language).
    pub async fn refresh(&self) {
        self.handle.update(|_| {}).await;
    }
}

pub struct Item {
    engine: Engine,
    windows: Windows,
    quit: Arc<Notify>,
    icon: Vec<Icon>,
}

impl Item {
    fn status_text(&self) -> String {
        i18n::tray_status(Lang::of(&self.engine), &self.engine.status())
    }
}

impl ksni::Tray for Item {
    fn id(&self) -> String {
        "ream".into()
    }

    fn title(&self) -> String {
        self.status_text()
    }

    fn icon_pixmap(&self) -> Vec<Icon> {
        self.icon.clone()
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip { title: "Ream".into(), description: self.status_text(), ..Default::default() }
    }

    /// A click on the icon opens the window.
    fn activate(&mut self, _x: i32, _y: i32) {
        self.windows.open(None);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        let logged_in = self.engine.status().user.is_some();
        let labels = i18n::menu_labels(Lang::of(&self.engine), logged_in);
        let item = |label: &str, activate: Box<dyn Fn(&mut Item) + Send>| {
            StandardItem { label: label.into(), activate, ..Default::default() }.into()
        };
        vec![
            item(
                labels.open,
                Box::new(|tray| {
                    tray.windows.open(None);
                }),
            ),
            item(
                labels.login,
                Box::new(|tray| {
                    if tray.engine.status().user.is_some() {
                        let engine = tray.engine.clone();
                        tokio::spawn(async move {
                            if let Err(e) = engine.logout().await {
                                tracing::warn!(error = %e, "logout from the tray failed");
                            }
                        });
                    } else {
                        tray.windows.open(Some("login".into()));
                    }
                }),
            ),
            item(
                labels.jobs,
                Box::new(|tray| {
                    tray.windows.open(Some("jobs".into()));
                }),
            ),
            MenuItem::Separator,
            item(labels.quit, Box::new(|tray| tray.quit.notify_one())),
        ]
    }
}

/// The app's icon as the tray protocol carries it (ARGB, network byte order), from its
/// 8-bit RGBA PNG.
fn icon() -> Vec<Icon> {
    match decode(include_bytes!("../../icons/32x32.png")) {
        Ok(icon) => vec![icon],
        Err(e) => {
            tracing::warn!(error = %e, "the tray has no icon");
            Vec::new()
        }
    }
}

fn decode(png: &[u8]) -> Result<Icon, Box<dyn std::error::Error>> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info()?;
    let mut rgba = vec![0; reader.output_buffer_size().ok_or("an image too large")?];
    let frame = reader.next_frame(&mut rgba)?;
    if (frame.color_type, frame.bit_depth) != (png::ColorType::Rgba, png::BitDepth::Eight) {
        return Err(format!("{:?} {:?}, not 8-bit RGBA", frame.color_type, frame.bit_depth).into());
    }
    let data = rgba[..frame.buffer_size()].chunks_exact(4).flat_map(|p| [p[3], p[0], p[1], p[2]]).collect();
    Ok(Icon { width: frame.width as i32, height: frame.height as i32, data })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_icon_is_the_apps_in_argb() {
        let icons = super::icon();
        let [icon] = &icons[..] else { panic!("no icon") };
        assert_eq!((icon.width, icon.height, icon.data.len()), (32, 32, 32 * 32 * 4));
        assert!(icon.data.chunks_exact(4).any(|p| p[0] == 0xff), "no opaque pixel");
    }
}
