//! Entry point of the desktop window: the app over the real Tauri backend, opened where
//! the desktop asked (`?open=` in the window's address).

import "./styles.css";
import { startApp } from "./app";
import { tauriBackend } from "./backend";

const root = document.getElementById("app");
const openAt = new URLSearchParams(window.location.search).get("open");
if (root) void startApp(root, tauriBackend, { openAt });
