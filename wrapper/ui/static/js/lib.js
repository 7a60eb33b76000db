// The one place the vendored UI library is imported from (htm's Preact bundle: Preact, its
// hooks and htm in one ES module; pinned in wrapper/ui/vendor.json).
export {
  html,
  render,
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "../vendor/htm-preact-standalone.module.js";
