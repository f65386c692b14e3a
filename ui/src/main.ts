//! Entry point of the desktop window: the app over the real Tauri backend.

import "./styles.css";
import { startApp } from "./app";
import { tauriBackend } from "./backend";

const root = document.getElementById("app");
if (root) void startApp(root, tauriBackend);
