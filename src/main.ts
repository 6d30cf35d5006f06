import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Layer from "effect/Layer"
import { exitCode } from "./layers/Exit.js"
import { GatewayLive } from "./layers/Main.js"

NodeRuntime.runMain(Layer.launch(GatewayLive), { disableErrorReporting: true, disablePrettyLogger: true, teardown: exitCode })
